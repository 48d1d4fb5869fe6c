package edge

import (
	"net/http"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
	"github.com/runbookhq/runbook/internal/httpserver/httpservertest"
)

// TestSlowLorisIsCutOff holds a connection to each of the real proxy and
// admin servers with headers sent one byte per second: each must drop it
// once its header timeout passes, not keep it for as long as the client likes.
func TestSlowLorisIsCutOff(t *testing.T) {
	s := startEdge(t, "")
	for name, c := range map[string]struct {
		addr  string
		limit time.Duration
	}{
		"proxy": {s.ProxyAddr(), httpserver.Proxy.ReadHeader},
		"admin": {s.AdminAddr(), httpserver.Endpoint.ReadHeader},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			took := httpservertest.SlowLoris(t, c.addr, c.limit+5*time.Second)
			if took < c.limit-time.Second {
				t.Errorf("cut after %v, before the header timeout of %v: the test did not measure the timeout", took, c.limit)
			}
		})
	}
}

// TestServersUseSharedLimits checks that both servers carry every limit of
// their profile, so a slow upload or a reader that never reads is cut too,
// not only slow headers.
func TestServersUseSharedLimits(t *testing.T) {
	s := startEdge(t, "")
	for name, c := range map[string]struct {
		got  *http.Server
		want httpserver.Limits
	}{"proxy": {s.run.proxy, httpserver.Proxy}, "admin": {s.run.admin, httpserver.Endpoint}} {
		got := httpserver.Limits{
			ReadHeader: c.got.ReadHeaderTimeout, Read: c.got.ReadTimeout, Write: c.got.WriteTimeout,
			Idle: c.got.IdleTimeout, MaxHeaderBytes: c.got.MaxHeaderBytes,
		}
		if got != c.want {
			t.Errorf("%s server limits %+v, want %+v", name, got, c.want)
		}
	}
}
