package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/statusview"
)

// statusCmd is `runbook status ID`.
type statusCmd struct {
	a      *app
	output outputFlag
}

func newStatusCmd(a *app) *cobra.Command {
	v := &statusCmd{a: a, output: outputFlag{indent: true}}
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show a release: environments, steps, pending approvals, rollback plan",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	v.output.register(cmd.Flags())
	return cmd
}

func (v *statusCmd) run(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		st, err := rc.Status(ctx, id)
		if err != nil {
			return err
		}
		return v.output.write(v.a.out, st, func() error {
			statusview.Render(v.a.out, st)
			// The report's signed link, where this CLI can sign one.
			if link, err := reportLink(st.ReleaseID); err == nil && link != "" && st.Finished() {
				fmt.Fprintf(v.a.out, "\nreport: %s\n", link)
			}
			return nil
		})
	})
}
