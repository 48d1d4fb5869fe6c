package edgeproxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
)

// listeners are the two running HTTP servers.
type listeners struct {
	proxy, admin *http.Server
	proxyAddr    string
	adminAddr    string
	done         chan error
}

// Start listens on the proxy and admin addresses and serves in the
// background. Stop it with Shutdown.
func (s *Server) Start() error {
	if s.run != nil {
		return errors.New("edge: already started")
	}
	pl, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	al, err := net.Listen("tcp", s.cfg.Admin)
	if err != nil {
		_ = pl.Close()
		return err
	}
	l := &listeners{
		// The proxy carries users' traffic, so its limits leave room for
		// long uploads and downloads; the admin API is one of runbook's own
		// endpoints (see httpserver.Proxy and httpserver.Endpoint); a drain
		// extends its own write deadline (handleDrain).
		proxy:     httpserver.New(s.ProxyHandler(), httpserver.Proxy),
		admin:     httpserver.New(s.AdminHandler(), s.adminLimits),
		proxyAddr: pl.Addr().String(),
		adminAddr: al.Addr().String(),
		done:      make(chan error, 2),
	}
	go func() { l.done <- serve(l.proxy, pl) }()
	go func() { l.done <- serve(l.admin, al) }()
	s.run = l
	s.log.Info("edge: listening", "proxy", l.proxyAddr, "admin", l.adminAddr)
	return nil
}

func serve(srv *http.Server, l net.Listener) error {
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ProxyAddr is the address the proxy listens on once started.
func (s *Server) ProxyAddr() string { return s.run.proxyAddr }

// AdminAddr is the address of the admin API once started.
func (s *Server) AdminAddr() string { return s.run.adminAddr }

// Shutdown stops accepting connections and waits for requests in flight to
// finish, up to ctx's deadline; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.run == nil {
		return nil
	}
	err := errors.Join(s.run.proxy.Shutdown(ctx), s.run.admin.Shutdown(ctx))
	if err != nil {
		// Out of grace: cut the connections still open rather than leave
		// them to a process that is about to exit.
		err = errors.Join(err, s.run.proxy.Close(), s.run.admin.Close())
	}
	err = errors.Join(err, <-s.run.done, <-s.run.done)
	s.run = nil
	return err
}

// Run starts the server and serves until ctx ends; see Wait.
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	if err := s.Start(); err != nil {
		return err
	}
	return s.Wait(ctx, grace)
}

// Wait serves a started server until ctx ends or a listener fails, then
// shuts down gracefully, giving requests in flight up to grace to finish.
func (s *Server) Wait(ctx context.Context, grace time.Duration) error {
	run := s.run
	if run == nil {
		return errors.New("edge: not started")
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-run.done:
		run.done <- nil // Shutdown reads two results
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(sctx))
}
