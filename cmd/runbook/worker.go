package main

import (
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/worker"
)

func newWorkerCmd(a *app) *cobra.Command {
	var httpAddr string
	var socketMode bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker (configured like the temporal CLI: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if httpAddr != "" {
				cfg.HTTPAddr = httpAddr
			}
			cfg.SlackSocketMode = cfg.SlackSocketMode || socketMode
			c, err := worker.Dial(ctx, cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := releases.EnsureSearchAttributes(ctx, c, cfg.Client.Namespace); err != nil {
				slog.Warn("search attributes not registered; register them once by hand", "error", err)
			}
			return worker.Run(ctx, cfg, c)
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "serve /healthz, /readyz and POST /slack/interactions here (default $RUNBOOK_HTTP_ADDR; 127.0.0.1:8088 when Slack is configured)")
	cmd.Flags().BoolVar(&socketMode, "slack-socket-mode", false, "receive Slack clicks over Socket Mode (needs SLACK_APP_TOKEN) instead of POST /slack/interactions")
	return cmd
}
