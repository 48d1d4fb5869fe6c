package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/workflows"
)

// newDecideCmd builds `approve` (approve=true) or `reject`.
func newDecideCmd(a *app, approve bool) *cobra.Command {
	var in workflows.DecisionInput
	verb, short := "reject", "Reject the waiting approval gate; the environment rolls back"
	if approve {
		verb, short = "approve", "Approve the waiting approval gate"
	}
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, closeFn, err := a.releases(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			in.Channel = "cli"
			res, err := rc.Decide(cmd.Context(), args[0], approve, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s: gate %s is %s (%d of %d approvals)\n", in.Actor, res.Gate, res.GateState, res.Approvals, res.Needed)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Gate, "gate", "", "gate name (default: the one gate waiting now)")
	cmd.Flags().StringVar(&in.Comment, "comment", "", "comment recorded with the decision")
	cmd.Flags().StringVar(&in.Actor, "as", defaultActor(), "who decides")
	return cmd
}
