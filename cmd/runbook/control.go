package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

var controlHelp = map[string]string{
	"pause":   "Pause the release before its next step",
	"resume":  "Resume a paused release",
	"abort":   "Abort the release: interrupt the running step and roll back",
	"promote": "End the bake of the current traffic weight (or accept an inconclusive analysis) and move to the next weight",
}

// controlCmd is pause, resume, abort or promote.
type controlCmd struct {
	a    *app
	verb string
	in   workflows.ControlInput
}

// newControlCmd builds pause, resume, abort or promote.
func newControlCmd(a *app, verb string) *cobra.Command {
	v := &controlCmd{a: a, verb: verb}
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: controlHelp[verb],
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.in.Reason, "reason", "", "why, recorded in the audit log")
	cmd.Flags().StringVar(&v.in.Actor, "as", defaultActor(), "who acts")
	return cmd
}

func (v *controlCmd) run(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		res, err := rc.Control(ctx, id, v.verb, v.in)
		if err != nil {
			return err
		}
		fmt.Fprintf(v.a.out, "%s: %s\n", id, res.State)
		return nil
	})
}
