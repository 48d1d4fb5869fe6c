package worker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/httpserver"
	"github.com/runbookhq/runbook/internal/testenv/slowclient"
)

type fakeHealth struct{ err error }

func (f fakeHealth) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	return &client.CheckHealthResponse{}, f.err
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestReadyzFollowsTemporalHealth(t *testing.T) {
	code, body := get(t, Handler(fakeHealth{}, "runbook"), "/readyz")
	if code != http.StatusOK || !strings.Contains(body, "runbook") {
		t.Fatalf("healthy Temporal: got %d %q", code, body)
	}
	// The probe answers anyone who can reach the port: the internal error
	// (addresses, TLS details) goes to the log, never into the response.
	internal := errors.New("dial tcp 10.0.3.7:7233: connection refused")
	code, body = get(t, Handler(fakeHealth{err: internal}, "runbook"), "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready") {
		t.Fatalf("unreachable Temporal: got %d %q", code, body)
	}
	if strings.Contains(body, "10.0.3.7") || strings.Contains(body, "refused") {
		t.Fatalf("/readyz echoes the internal error: %q", body)
	}
	if code, _ := get(t, Handler(fakeHealth{err: errors.New("down")}, "q"), "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz must not depend on Temporal, got %d", code)
	}
}

func TestServeHTTPReportsTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := serveHTTP(l.Addr().String(), http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "RUNBOOK_HTTP_ADDR") {
		t.Fatalf("taken port: want an error naming RUNBOOK_HTTP_ADDR, got %v", err)
	}
}

func TestServeHTTPServesUntilStopped(t *testing.T) {
	addr, stop := serveOnFreePort(t)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	stop()
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("server still answers after stop")
	}
}

// TestServeHTTPCutsSlowLoris holds a connection to the worker's real server
// (the one the Slack endpoint is on) with headers sent one byte per second.
func TestServeHTTPCutsSlowLoris(t *testing.T) {
	addr, stop := serveOnFreePort(t)
	defer stop()
	limit := httpserver.Endpoint.ReadHeader
	if took := slowclient.SlowLoris(t, addr, limit+5*time.Second); took < limit-time.Second {
		t.Errorf("cut after %v, before the header timeout of %v", took, limit)
	}
}

// TestServeHTTPCutsSlowUpload sends a request body one byte per second to
// the worker's real server: like the Slack endpoint, the handler reads the
// whole body before it can check a signature, so only the server's read
// timeout stops a client holding it.
func TestServeHTTPCutsSlowUpload(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	mux := Handler(fakeHealth{}, "q")
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		}
	})
	stop, err := serveHTTP(addr, mux)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	limit := httpserver.Endpoint.Read
	if took := slowclient.SlowBody(t, addr, "/upload", limit+5*time.Second); took < limit-time.Second {
		t.Errorf("cut after %v, before the read timeout of %v", took, limit)
	}
}

// serveOnFreePort starts the worker's HTTP server, with a healthy fake, on a
// free 127.0.0.1 port and returns its address and stop function.
func serveOnFreePort(t *testing.T) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	stop, err := serveHTTP(addr, Handler(fakeHealth{}, "q"))
	if err != nil {
		t.Fatal(err)
	}
	return addr, stop
}
