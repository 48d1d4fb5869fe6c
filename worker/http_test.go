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

	"go.temporal.io/sdk/client"
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
