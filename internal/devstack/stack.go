package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/worker"
)

// Stack is the local stack of `runbook dev` and `runbook demo`: a Temporal
// dev server with its Web UI, the local edge proxy and a worker, all on
// 127.0.0.1. Start brings up the server; StartEdge, RunWorker and
// StartWorker add the rest; Stop stops what was started, in reverse order.
type Stack struct {
	// Config is the worker configuration; Start points it at the server.
	Config worker.Config
	// Port and UIPort are the server's gRPC and Web UI ports.
	Port, UIPort int
	// DBFile keeps the server's state (default <state dir>/temporal.db).
	DBFile string
	// Reuse uses a server that already answers on Port instead of
	// starting one (the demo, next to a running `runbook dev`).
	Reuse bool
	// Out receives what a person reads; ErrOut the warnings.
	Out, ErrOut io.Writer

	server *Server
	stops  []func()
}

// Start uses or starts the dev server and registers the search attributes.
func (s *Stack) Start(ctx context.Context) error {
	addr := fmt.Sprintf("127.0.0.1:%d", s.Port)
	if s.Reuse && Ping(ctx, addr) == nil {
		fmt.Fprintf(s.Out, "using the Temporal server already running at %s\n", addr)
		s.Config.Client.HostPort = addr
		s.Config.UIURL = fmt.Sprintf("http://127.0.0.1:%d", s.UIPort)
		return nil
	}
	return s.startServer(ctx)
}

// startServer starts the dev server with state under the state directory.
func (s *Stack) startServer(ctx context.Context) error {
	cfg := &s.Config
	db := s.DBFile
	if db == "" {
		db = filepath.Join(cfg.StateDir, "temporal.db")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(cfg.StateDir, "temporal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	codecURL, err := s.startCodec()
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "starting Temporal dev server on 127.0.0.1:%d (log %s)...\n", s.Port, logf.Name())
	srv, err := Start(ctx, Options{Port: s.Port, UIPort: s.UIPort, DBFile: db, Log: logf, UICodecEndpoint: codecURL})
	if err != nil {
		s.Stop()
		return err
	}
	cfg.Client.HostPort = srv.Address
	cfg.UIURL = srv.UIURL
	// From here Stop stops the server and the codec server alike.
	s.server = srv
	c, err := worker.Dial(ctx, *cfg)
	if err != nil {
		s.Stop()
		return err
	}
	defer c.Close()
	if err := releases.EnsureSearchAttributes(ctx, c, cfg.Client.Namespace); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// startCodec, when payloads are encrypted (RUNBOOK_CODEC_KEYS) and the
// Web UI runs, starts a codec server on a free loopback port for the UI's
// origin and returns its URL, so the local UI shows payloads decrypted.
// It asks no token: the dev UI has no login to send one, and a loopback
// address keeps it to this machine.
func (s *Stack) startCodec() (string, error) {
	if s.Config.Codec == nil || s.UIPort < 0 {
		return "", nil
	}
	ui := s.UIPort
	if ui == 0 {
		ui = 8233
	}
	srv, err := codec.Serve("127.0.0.1:0", s.Config.Codec, codec.ServerOptions{NoAuth: true, CORSOrigin: fmt.Sprintf("http://127.0.0.1:%d", ui)})
	if err != nil {
		return "", err
	}
	s.stops = append(s.stops, srv.Stop)
	fmt.Fprintf(s.Out, "codec server %s decrypts payloads for the Web UI (key %s)\n", srv.URL, s.Config.Codec.KeyID())
	return srv.URL, nil
}

// Server is the dev server Start started; nil when it reused one.
func (s *Stack) Server() *Server { return s.server }

// StartEdge starts the local edge proxy (127.0.0.1:18090, admin 18091)
// with LocalEdgeBackends; Stop stops it.
func (s *Stack) StartEdge() (*edgeproxy.Server, error) {
	srv, stop, err := startLocalEdge(s.Config.StateDir, s.Out, s.ErrOut)
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, stop)
	return srv, nil
}

// RunWorker runs a worker in this process until ctx ends.
func (s *Stack) RunWorker(ctx context.Context) error {
	c, err := worker.Dial(ctx, s.Config)
	if err != nil {
		return err
	}
	defer c.Close()
	return worker.Run(ctx, s.Config, c)
}

// StartWorker runs a worker in the background until Stop; its error goes
// to ErrOut.
func (s *Stack) StartWorker(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.RunWorker(wctx); err != nil {
			fmt.Fprintln(s.ErrOut, "worker:", err)
		}
	}()
	s.stops = append(s.stops, func() {
		cancel()
		wg.Wait()
	})
}

// Stop stops what the stack started, the last first, then the server.
func (s *Stack) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
	_ = s.server.Stop()
	s.server = nil
}

// exampleRefs are the env: names the shipped example runbook reads.
const exampleRefs = "CHECKOUT_*,STOREFRONT_*"

// AllowExampleRefs lets the local worker of demo and dev resolve the example
// runbook's references when RUNBOOK_ENV_ALLOW is unset: on a laptop, with
// variables these commands set themselves. An operator's list is kept.
func AllowExampleRefs() {
	if os.Getenv(secretref.AllowEnv) == "" {
		_ = os.Setenv(secretref.AllowEnv, exampleRefs)
	}
}
