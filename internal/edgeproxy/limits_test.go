package edgeproxy

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
	"github.com/runbookhq/runbook/internal/testenv/slowclient"
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
			took := slowclient.SlowLoris(t, c.addr, c.limit+5*time.Second)
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

// TestDrainOutlivesTheAdminWriteLimit drains a backend with a request held
// in flight for longer than the admin server's write limit: the drain's
// answer must still arrive, because a drain may legitimately wait up to
// MaxDrainTimeout.
func TestDrainOutlivesTheAdminWriteLimit(t *testing.T) {
	release := make(chan struct{})
	a := newUpstream(t, "a", func(w http.ResponseWriter, _ *http.Request) {
		<-release
		_, _ = w.Write([]byte("a"))
	})
	s, err := New(Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: testToken,
		StateFile: filepath.Join(t.TempDir(), "edge.json"), Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	s.adminLimits.Write = time.Second
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(release); stopEdge(t, s) })
	putBackend(t, s, "a", a.srv.URL, 100)
	go func() {
		if resp, err := http.Get("http://" + s.ProxyAddr() + "/"); err == nil {
			drain(resp)
		}
	}()
	waitFor(t, "request in flight on a", func() bool { return s.Backends()[0].InFlight == 1 })

	code, body, err := tryAdmin(s, http.MethodPost, "/v1/backends/a/drain", testToken, DrainRequest{Timeout: "2s"})
	if err != nil {
		t.Fatalf("a 2s drain behind a 1s write limit was cut: %v", err)
	}
	var r DrainResponse
	if code != http.StatusOK || json.Unmarshal(body, &r) != nil || r.InFlight != 1 || r.Drained {
		t.Fatalf("drain: %d %s, want 200 with 1 in flight", code, body)
	}
}
