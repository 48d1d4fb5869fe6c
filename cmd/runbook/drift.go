package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// driftCmd holds the flags shared by the drift verbs; each verb is a method.
type driftCmd struct {
	a       *app
	env, as string
	every   time.Duration
	output  outputFlag
}

func newDriftCmd(a *app) *cobra.Command {
	v := &driftCmd{a: a}
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "Detect infrastructure changes made outside releases",
		Long: "Drift checks plan an environment's infra module with the variables of its last release.\n" +
			"`check` runs one now (exit 2 when drifted); `enable` schedules them; the results go to the\n" +
			"audit log and the Web UI (workflows drift/<service>/<env>, RunbookStatus drifted or in-sync).",
	}
	cmd.PersistentFlags().StringVar(&v.env, "env", "", "environment (required)")
	v.output.register(cmd.PersistentFlags())
	verb := func(use, short string, run func(context.Context, string, *runbooks.Runbook, *releases.Client) error) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return v.withRunbook(cmd.Context(), args[0], run) },
		}
	}
	check := verb("check RUNBOOK", "Check an environment for drift now", v.check)
	check.Flags().StringVar(&v.as, "as", defaultActor(), "who asks")
	enable := verb("enable RUNBOOK", "Check an environment for drift on a schedule", v.enable)
	enable.Flags().DurationVar(&v.every, "every", time.Hour, "interval between checks")
	disable := verb("disable RUNBOOK", "Delete an environment's drift schedule", v.disable)
	status := verb("status RUNBOOK", "Show the drift schedule and its latest result", v.status)
	cmd.AddCommand(check, enable, disable, status)
	return cmd
}

// withRunbook loads the runbook, connects and calls fn.
func (v *driftCmd) withRunbook(ctx context.Context, path string, fn func(context.Context, string, *runbooks.Runbook, *releases.Client) error) error {
	rb, err := loadRunbookFor(path, v.env)
	if err != nil {
		return err
	}
	return v.a.withReleases(ctx, func(rc *releases.Client) error { return fn(ctx, path, rb, rc) })
}

func (v *driftCmd) check(ctx context.Context, path string, rb *runbooks.Runbook, rc *releases.Client) error {
	in, err := releases.DriftInputFor(path, rb, v.env, v.as)
	if err != nil {
		return err
	}
	res, err := rc.CheckDrift(ctx, in)
	if err != nil {
		return err
	}
	// The exit code tells a drift whatever the output format.
	_ = v.output.write(v.a.out, res, func() error {
		fmt.Fprintf(v.a.out, "%s %s: %s — %s\n", rb.Service, v.env, res.State, res.Summary)
		return nil
	})
	if res.State == workflows.StateDrifted {
		return &exitError{code: 2}
	}
	return nil
}

func (v *driftCmd) enable(ctx context.Context, path string, rb *runbooks.Runbook, rc *releases.Client) error {
	in, err := releases.DriftInputFor(path, rb, v.env, "")
	if err != nil {
		return err
	}
	if err := rc.EnableDrift(ctx, in, v.every); err != nil {
		return err
	}
	fmt.Fprintf(v.a.out, "drift checks of %s %s every %s (schedule %s)\n", rb.Service, v.env, v.every, workflows.DriftID(rb.Service, v.env))
	return nil
}

func (v *driftCmd) disable(ctx context.Context, _ string, rb *runbooks.Runbook, rc *releases.Client) error {
	if err := rc.DisableDrift(ctx, rb.Service, v.env); err != nil {
		return err
	}
	fmt.Fprintf(v.a.out, "drift schedule %s deleted\n", workflows.DriftID(rb.Service, v.env))
	return nil
}

func (v *driftCmd) status(ctx context.Context, _ string, rb *runbooks.Runbook, rc *releases.Client) error {
	d, err := rc.DescribeDrift(ctx, rb.Service, v.env)
	if err != nil {
		return err
	}
	return v.output.write(v.a.out, d, func() error {
		out := v.a.out
		fmt.Fprintf(out, "schedule %s: every %s, next %s\n", d.ID, d.Every, d.Next.Local().Format(time.DateTime))
		if d.Last != nil {
			fmt.Fprintf(out, "last check %s (%s): %s — %s\n", d.LastRun, d.Last.Checked.Local().Format(time.DateTime), d.Last.State, d.Last.Summary)
		} else {
			fmt.Fprintln(out, "no completed check yet")
		}
		return nil
	})
}
