package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/workflows"
)

var controlHelp = map[string]string{
	"pause":   "Pause the release before its next step",
	"resume":  "Resume a paused release",
	"abort":   "Abort the release: interrupt the running step and roll back",
	"promote": "End the bake of the current traffic weight (or accept an inconclusive analysis) and move to the next weight",
}

// newControlCmd builds pause, resume, abort or promote.
func newControlCmd(a *app, verb string) *cobra.Command {
	var in workflows.ControlInput
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: controlHelp[verb],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			res, err := rc.Control(cmd.Context(), args[0], verb, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s: %s\n", args[0], res.State)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Reason, "reason", "", "why, recorded in the audit log")
	cmd.Flags().StringVar(&in.Actor, "as", defaultActor(), "who acts")
	return cmd
}
