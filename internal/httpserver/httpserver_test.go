package httpserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/slowclient"
)

// start serves h with limits l on a free local port until the test ends.
func start(t *testing.T, l Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Like the Slack endpoint, read the whole body before answering.
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "ok")
	}), l)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestNewSetsEveryLimit(t *testing.T) {
	for name, l := range map[string]Limits{"Endpoint": Endpoint, "Proxy": Proxy} {
		s := New(http.NotFoundHandler(), l)
		if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
			t.Errorf("%s: a limit is unset: %+v", name, l)
		}
		if s.ReadHeaderTimeout > s.ReadTimeout {
			t.Errorf("%s: headers may take longer (%v) than the whole request (%v)", name, s.ReadHeaderTimeout, s.ReadTimeout)
		}
	}
}

func TestSlowLorisIsCutOff(t *testing.T) {
	l := Endpoint
	l.ReadHeader = time.Second
	addr := start(t, l)
	took := slowclient.SlowLoris(t, addr, 5*time.Second)
	t.Logf("slow-loris cut after %v", took)
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	addr := start(t, Endpoint)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	big := strings.Repeat("a", 2*Endpoint.MaxHeaderBytes)
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("%d KiB of headers: got %d, want 431", 2*Endpoint.MaxHeaderBytes>>10, resp.StatusCode)
	}
}

func TestSlowBodyIsCutOff(t *testing.T) {
	l := Endpoint
	l.ReadHeader, l.Read = time.Second, 2*time.Second
	addr := start(t, l)
	if took := slowclient.SlowBody(t, addr, "/", 6*time.Second); took < time.Second {
		t.Errorf("cut after %v, before the read timeout of %v", took, l.Read)
	}
}
