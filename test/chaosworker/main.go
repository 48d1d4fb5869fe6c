// Command chaosworker is `runbook worker` with the fault-injection
// interceptor of internal/testenv/chaos added: the worker the chaos suite
// (test/chaos_*_test.go) runs, kills and restarts. It reads the same
// configuration as the product's worker, plus RUNBOOK_CHAOS_PLAN, the plan
// file that says which activity fails, when and how.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/interceptor"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/testenv/chaos"
	"github.com/runbookhq/runbook/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaosworker:", err)
		os.Exit(1)
	}
}

func run() error {
	plan := os.Getenv(chaos.EnvPlan)
	if plan == "" {
		return fmt.Errorf("set %s to the plan file (it need not exist yet)", chaos.EnvPlan)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := worker.LoadConfig()
	if err != nil {
		return err
	}
	cfg.Interceptors = []interceptor.WorkerInterceptor{chaos.New(plan)}
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := releases.EnsureSearchAttributes(ctx, c, cfg.Client.Namespace); err != nil {
		slog.Warn("search attributes not registered", "error", err)
	}
	return worker.Run(ctx, cfg, c)
}
