package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
)

// newFreezeRestoreCmd builds `runbook freeze restore`: start the Freezes
// workflow again after its run was cancelled or terminated.
func newFreezeRestoreCmd(a *app) *cobra.Command {
	v := &freezeRestoreCmd{a: a}
	in := &v.in
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Start the Freezes workflow again, with its freezes, after its run was cancelled or terminated",
		Long: "A cancelled or terminated Freezes workflow keeps answering from its closed run (its freezes still hold\n" +
			"releases), and the next freeze create or lift starts a new run with its state. restore does that without\n" +
			"creating or lifting anything. When the closed run cannot be read back, it refuses and says why;\n" +
			"--empty then starts without those freezes, with a reason recorded in the audit log.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&in.Empty, "empty", false, "start without the closed run's freezes (only when they cannot be read back)")
	fl.StringVar(&in.Reason, "reason", "", "why (required with --empty), recorded in the audit log")
	fl.StringVar(&in.Actor, "as", defaultActor(), "who restores it")
	v.output.register(fl)
	return cmd
}

// freezeRestoreCmd is `runbook freeze restore`.
type freezeRestoreCmd struct {
	a      *app
	in     releases.RestoreInput
	output outputFlag
}

func (v *freezeRestoreCmd) run(ctx context.Context) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		res, err := rc.RestoreFreezes(ctx, v.in)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, res, func() error {
			out := v.a.out
			switch {
			case res.AlreadyRunning:
				fmt.Fprintf(out, "the Freezes workflow is running (run %s); nothing to restore\n", res.RunID)
			case v.in.Empty:
				fmt.Fprintf(out, "started the Freezes workflow empty (run %s) in place of the run that ended (%s)\n", res.RunID, res.From.Closed())
			default:
				fmt.Fprintf(out, "restored %d freezes (%d active) into run %s from the run that ended (%s)\n",
					res.Freezes, res.Active, res.RunID, res.From.Closed())
			}
			return nil
		})
	})
}

// noteClosedFreezes tells the reader of `freeze list` that the freezes come
// from a closed run, which still holds releases, and how to restart it.
func noteClosedFreezes(ctx context.Context, a *app, rc *releases.Client) {
	b, err := rc.DescribeFreezes(ctx)
	if err != nil || !b.Exists || b.Running {
		return
	}
	fmt.Fprintf(a.errOut, "note: the Freezes workflow ended (%s); these freezes are read from that run and still hold releases.\n"+
		"The next `runbook freeze create` or `lift`, or `runbook freeze restore`, starts a new run with them.\n", b.Closed())
}
