package codec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
)

// Server is a running codec server.
type Server struct {
	// URL is its base URL, the Web UI's codec endpoint.
	URL  string
	srv  *http.Server
	done chan struct{}
}

// Serve starts a codec server for c on listen (host:port) with the
// product's endpoint limits. It binds before returning, so a taken port is
// reported now.
func Serve(listen string, c *Codec, o ServerOptions) (*Server, error) {
	h, err := Handler(c, o)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("codec server: %w", err)
	}
	s := &Server{URL: "http://" + l.Addr().String(), srv: httpserver.New(h, httpserver.Endpoint), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("codec server stopped", "error", err)
		}
	}()
	return s, nil
}

// Stop stops the server, letting requests in flight finish for 5 seconds.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}
