package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/devstack"
)

// devCmd is `runbook dev`: the local stack in the foreground.
type devCmd struct {
	a            *app
	port, uiPort int
	noWorker     bool
	noEdge       bool
	db           string
}

func newDevCmd(a *app) *cobra.Command {
	v := &devCmd{a: a}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the embedded local stack in the foreground: Temporal dev server + Web UI + worker",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().IntVar(&v.port, "port", 7233, "Temporal gRPC port on 127.0.0.1")
	cmd.Flags().IntVar(&v.uiPort, "ui-port", 8233, "Web UI port on 127.0.0.1")
	cmd.Flags().BoolVar(&v.noWorker, "no-worker", false, "run the server only")
	cmd.Flags().BoolVar(&v.noEdge, "no-edge", false, "do not start the edge proxy (127.0.0.1:18090, admin 18091)")
	cmd.Flags().StringVar(&v.db, "db", "", "dev server state file (default <state dir>/temporal.db)")
	return cmd
}

func (v *devCmd) run(ctx context.Context) error {
	ctx, stop := untilSignal(ctx)
	defer stop()
	cfg, err := v.a.config()
	if err != nil {
		return err
	}
	st := &devstack.Stack{Config: cfg, Port: v.port, UIPort: v.uiPort, DBFile: v.db, Out: v.a.out, ErrOut: v.a.errOut}
	if err := st.Start(ctx); err != nil {
		return err
	}
	defer st.Stop()
	cfg = st.Config
	srv := st.Server()
	fmt.Fprintf(v.a.out, "Temporal  %s (namespace %s)\nWeb UI    %s\nAudit log %s\n", srv.Address, cfg.Client.Namespace, srv.UIURL, cfg.AuditLog)
	if !v.noEdge {
		if _, err := st.StartEdge(); err != nil {
			return err
		}
	}
	if v.noWorker {
		fmt.Fprintln(v.a.out, "No worker (--no-worker). Ctrl-C stops the server.")
		<-ctx.Done()
		return nil
	}
	devstack.AllowExampleRefs()
	fmt.Fprintln(v.a.out, "Worker running. Ctrl-C stops everything.")
	return st.RunWorker(ctx)
}
