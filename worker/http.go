package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/httpserver"
)

// healthChecker is the part of the Temporal client the readiness probe uses.
type healthChecker interface {
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Handler serves the worker's probes: /healthz answers while the process
// runs; /readyz answers 200 only when Temporal's frontend is reachable, so an
// orchestrator does not route work to a worker that cannot poll.
func Handler(c healthChecker, taskQueue string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			// The probe is unauthenticated: the error names internal
			// addresses and TLS details, so it goes to the log only.
			slog.Warn("readyz: Temporal health check failed", "error", err)
			http.Error(w, "not ready: temporal unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ready: polling task queue %s\n", taskQueue)
	})
	return mux
}

// serveHTTP runs the probe server on addr until the returned stop is called. It binds before
// returning, so a taken port is reported at start, not lost in a goroutine.
func serveHTTP(addr string, h http.Handler) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("RUNBOOK_HTTP_ADDR %s: %w", addr, err)
	}
	// The Slack endpoint reads its body before the signature can be
	// checked, so the limits, not the signature, stop a slow client.
	srv := httpserver.New(h, httpserver.Endpoint)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("worker HTTP server stopped", "error", err)
		}
	}()
	slog.Info("worker HTTP endpoints", "addr", l.Addr().String(), "paths", "/healthz /readyz")
	return func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}, nil
}
