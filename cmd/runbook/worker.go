package main

import (
	"github.com/runbookhq/runbook/internal/telemetry"

	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/worker"
)

// workerCmd is `runbook worker`.
type workerCmd struct {
	a          *app
	httpAddr   string
	socketMode bool
}

func newWorkerCmd(a *app) *cobra.Command {
	v := &workerCmd{a: a}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker (configured like the temporal CLI: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&v.httpAddr, "http-addr", "", "serve /healthz, /readyz and POST /slack/interactions here (default $RUNBOOK_HTTP_ADDR; 127.0.0.1:8088 when Slack is configured)")
	cmd.Flags().BoolVar(&v.socketMode, "slack-socket-mode", false, "receive Slack clicks over Socket Mode (needs SLACK_APP_TOKEN) instead of POST /slack/interactions")
	return cmd
}

func (v *workerCmd) run(ctx context.Context) error {
	ctx, stop := untilSignal(ctx)
	defer stop()
	cfg, err := v.a.config()
	if err != nil {
		return err
	}
	if v.httpAddr != "" {
		cfg.HTTPAddr = v.httpAddr
	}
	cfg.SlackSocketMode = cfg.SlackSocketMode || v.socketMode
	// The worker's clients record the SDK's metrics for /metrics.
	cfg.Metrics = telemetry.New()
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := releases.EnsureSearchAttributes(ctx, c, cfg.Client.Namespace); err != nil {
		slog.Warn("search attributes not registered; register them once by hand", "error", err)
	}
	return worker.Run(ctx, cfg, c)
}
