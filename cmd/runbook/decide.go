package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// decideCmd is `approve` or `reject`.
type decideCmd struct {
	a       *app
	approve bool
	in      workflows.DecisionInput
}

// newDecideCmd builds `approve` (approve=true) or `reject`.
func newDecideCmd(a *app, approve bool) *cobra.Command {
	v := &decideCmd{a: a, approve: approve}
	verb, short := "reject", "Reject the waiting approval gate; the environment rolls back"
	if approve {
		verb, short = "approve", "Approve the waiting approval gate"
	}
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.in.Gate, "gate", "", "gate name (default: the one gate waiting now)")
	cmd.Flags().StringVar(&v.in.Comment, "comment", "", "comment recorded with the decision")
	cmd.Flags().StringVar(&v.in.Actor, "as", defaultActor(), "who decides")
	return cmd
}

func (v *decideCmd) run(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		v.in.Channel = "cli"
		res, err := rc.Decide(ctx, id, v.approve, v.in)
		if err != nil {
			return err
		}
		fmt.Fprintf(v.a.out, "%s: gate %s is %s (%d of %d approvals)\n", v.in.Actor, res.Gate, res.GateState, res.Approvals, res.Needed)
		return nil
	})
}
