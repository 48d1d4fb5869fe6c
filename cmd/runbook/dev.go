package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/devstack"
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
	cfg, err := a.config()
	if err != nil {
		return err
	}
	st := &devstack.Stack{Config: cfg, Port: o.port, UIPort: o.uiPort, DBFile: o.db, Out: a.out, ErrOut: a.errOut}
	if err := st.Start(ctx); err != nil {
		return err
	}
	defer st.Stop()
	cfg = st.Config
	srv := st.Server()
	fmt.Fprintf(a.out, "Temporal  %s (namespace %s)\nWeb UI    %s\nAudit log %s\n", srv.Address, cfg.Client.Namespace, srv.UIURL, cfg.AuditLog)
	if !o.noEdge {
		if _, err := st.StartEdge(); err != nil {
			return err
		}
	}
	if o.noWorker {
		fmt.Fprintln(a.out, "No worker (--no-worker). Ctrl-C stops the server.")
		<-ctx.Done()
		return nil
	}
	devstack.AllowExampleRefs()
	fmt.Fprintln(a.out, "Worker running. Ctrl-C stops everything.")
	return st.RunWorker(ctx)
}
