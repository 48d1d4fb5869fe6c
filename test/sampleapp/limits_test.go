package main

import (
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
	"github.com/runbookhq/runbook/internal/testenv/slowclient"
)

// TestServerCutsSlowLoris serves the app's handler with the server run
// starts, and holds a connection with headers sent one byte per second.
func TestServerCutsSlowLoris(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(l.Addr().String(), newHandler("v1", false, nil, fault{}, nil))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	defer func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	limit := httpserver.Endpoint.ReadHeader
	if took := slowclient.SlowLoris(t, l.Addr().String(), limit+5*time.Second); took < limit-time.Second {
		t.Errorf("cut after %v, before the header timeout of %v", took, limit)
	}
}
