package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

// rollbackCmd is `runbook rollback`.
type rollbackCmd struct {
	a      *app
	opts   releases.RollbackOptions
	dry    bool
	wait   bool
	output outputFlag
}

func newRollbackCmd(a *app) *cobra.Command {
	v := &rollbackCmd{a: a}
	cmd := &cobra.Command{
		Use:   "rollback SERVICE --env E --reason WHY",
		Short: "Put the last version that succeeded in an environment back, as a release of its own",
		Long: `Rollback starts rollback/SERVICE/E/N: a release of the version that succeeded in E
before the live one (or --to VERSION), through the runbook that deployed it, read from that
release's own input. Its profile: one approval from the environment's approvers, no
migrations run (down or again), every traffic step all at once with a bake of at most 1m,
and the artifact's digest, signature and vulnerability checks as always. When the version
still runs in the other traffic slot, only traffic moves back (seconds); otherwise the
version is provisioned again (--full forces that).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.opts.Environment, "env", "", "environment to roll back (required)")
	cmd.Flags().StringVar(&v.opts.To, "to", "", "version to put back (default: the last that succeeded there before the live one)")
	cmd.Flags().StringVar(&v.opts.Reason, "reason", "", "why (required; goes to the approvers, Slack and the audit log)")
	cmd.Flags().StringVar(&v.opts.Requester, "as", defaultActor(), "who requests the rollback")
	cmd.Flags().BoolVar(&v.opts.Full, "full", false, "provision the version again even when it still runs in the other slot")
	cmd.Flags().BoolVar(&v.dry, "dry-run", false, "say what would be rolled back and how, and start nothing")
	cmd.Flags().BoolVar(&v.wait, "wait", false, "follow the rollback until it ends; exit non-zero unless it succeeded")
	v.output.register(cmd.Flags())
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("reason")
	return cmd
}

func (v *rollbackCmd) run(ctx context.Context, service string) error {
	v.opts.Service = service
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		plan, err := rc.PlanRollback(ctx, v.opts)
		if err != nil {
			return err
		}
		if v.dry {
			if v.output.json() {
				return v.output.encode(v.a.out, plan)
			}
			fmt.Fprintf(v.a.out, "would roll %s back in %s: %s (%s) → %s (%s), %s path: %s\n", service, v.opts.Environment,
				plan.Current.Version, plan.Current.ReleaseID, plan.Target.Version, plan.Target.ReleaseID, plan.Path, plan.Why)
			return nil
		}
		run, err := rc.StartRollback(ctx, plan)
		if err != nil {
			return err
		}
		fields := map[string]string{"path": plan.Path, "from": plan.Current.Version, "to": plan.Target.Version}
		line := fmt.Sprintf("started %s: %s → %s in %s, %s path (%s)", run.GetID(), plan.Current.Version, plan.Target.Version,
			v.opts.Environment, plan.Path, plan.Why)
		return v.a.started(ctx, rc, run, v.wait, v.output, fields, line)
	})
}
