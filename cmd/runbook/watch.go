package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
)

// watchCmd is `runbook watch ID`.
type watchCmd struct{ a *app }

func newWatchCmd(a *app) *cobra.Command {
	v := &watchCmd{a: a}
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a release live until it ends; exit non-zero unless it succeeded",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
}

func (v *watchCmd) run(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		st, err := statusview.NewFollower(v.a.out).Follow(ctx, rc, id)
		if err != nil {
			return err
		}
		return outcome(st)
	})
}
