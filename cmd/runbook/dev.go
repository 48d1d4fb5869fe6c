package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/worker"
)

type devOptions struct {
	port, uiPort int
	noWorker     bool
	noEdge       bool
	db           string
}

func newDevCmd(a *app) *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the embedded local stack in the foreground: Temporal dev server + Web UI + worker",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.dev(ctx, o)
		},
	}
	cmd.Flags().IntVar(&o.port, "port", 7233, "Temporal gRPC port on 127.0.0.1")
	cmd.Flags().IntVar(&o.uiPort, "ui-port", 8233, "Web UI port on 127.0.0.1")
	cmd.Flags().BoolVar(&o.noWorker, "no-worker", false, "run the server only")
	cmd.Flags().BoolVar(&o.noEdge, "no-edge", false, "do not start the edge proxy (127.0.0.1:18090, admin 18091)")
	cmd.Flags().StringVar(&o.db, "db", "", "dev server state file (default <state dir>/temporal.db)")
	return cmd
}

func (a *app) dev(ctx context.Context, o *devOptions) error {
	cfg, srv, err := a.startStack(ctx, o.port, o.uiPort, o.db)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Fprintf(a.out, "Temporal  %s (namespace %s)\nWeb UI    %s\nAudit log %s\n", srv.Address, cfg.Client.Namespace, srv.UIURL, cfg.AuditLog)
	if !o.noEdge {
		_, stopEdge, err := a.startLocalEdge(cfg.StateDir)
		if err != nil {
			return err
		}
		defer stopEdge()
	}
	if o.noWorker {
		fmt.Fprintln(a.out, "No worker (--no-worker). Ctrl-C stops the server.")
		<-ctx.Done()
		return nil
	}
	allowExampleRefs()
	fmt.Fprintln(a.out, "Worker running. Ctrl-C stops everything.")
	return a.runWorker(ctx, cfg)
}

// startStack starts the dev server with state under the state directory and
// registers the search attributes. The returned config points at it.
func (a *app) startStack(ctx context.Context, port, uiPort int, db string) (worker.Config, *devstack.Server, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, err
	}
	if db == "" {
		db = filepath.Join(cfg.StateDir, "temporal.db")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return cfg, nil, err
	}
	logf, err := os.OpenFile(filepath.Join(cfg.StateDir, "temporal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return cfg, nil, err
	}
	fmt.Fprintf(a.out, "starting Temporal dev server on 127.0.0.1:%d (log %s)...\n", port, logf.Name())
	srv, err := devstack.Start(ctx, devstack.Options{Port: port, UIPort: uiPort, DBFile: db, Log: logf})
	if err != nil {
		return cfg, nil, err
	}
	cfg.Client.HostPort = srv.Address
	cfg.UIURL = srv.UIURL
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		_ = srv.Stop()
		return cfg, nil, err
	}
	defer c.Close()
	if err := releases.EnsureSearchAttributes(ctx, c, cfg.Client.Namespace); err != nil {
		_ = srv.Stop()
		return cfg, nil, err
	}
	return cfg, srv, nil
}

// runWorker runs a worker until ctx ends.
func (a *app) runWorker(ctx context.Context, cfg worker.Config) error {
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return worker.Run(ctx, cfg, c)
}
