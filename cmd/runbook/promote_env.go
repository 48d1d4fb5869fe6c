package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// promoteEnvCmd is `runbook promote-env`: the decision a manual promotion
// waits for, sent as an approval of the promote gate of the next
// environment, signed like every decision.
type promoteEnvCmd struct {
	a   *app
	env string
	in  workflows.DecisionInput
}

func newPromoteEnvCmd(a *app) *cobra.Command {
	v := &promoteEnvCmd{a: a}
	cmd := &cobra.Command{
		Use:   "promote-env ID --env E",
		Short: "Promote a release to environment E, where it waits because the environment before has promote: manual",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&v.env, "env", "", "the environment to promote to (required)")
	cmd.Flags().StringVar(&v.in.Comment, "comment", "", "comment recorded with the decision")
	cmd.Flags().StringVar(&v.in.Actor, "as", defaultActor(), "who decides")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func (v *promoteEnvCmd) run(ctx context.Context, id string) error {
	return v.a.withReleases(ctx, func(rc *releases.Client) error {
		st, err := rc.Status(ctx, releases.NormalizeID(id))
		if err != nil {
			return err
		}
		cur, ok := environment(st, v.env)
		if !ok || !waitsAt(cur, runbooks.PromoteGate) {
			return fmt.Errorf("%s does not wait for a promotion to %s (it is %s%s); promote-env answers a manual promotion's gate %q",
				st.ReleaseID, v.env, st.State, where(st), runbooks.PromoteGate)
		}
		v.in.Gate, v.in.Channel = runbooks.PromoteGate, "cli"
		res, err := rc.Decide(ctx, st.ReleaseID+"@"+v.env, true, v.in)
		if err != nil {
			return err
		}
		fmt.Fprintf(v.a.out, "%s: promotion to %s is %s (%d of %d approvals)\n", v.in.Actor, v.env, res.GateState, res.Approvals, res.Needed)
		return nil
	})
}

// waitsAt reports whether gate is open in e.
func waitsAt(e workflows.EnvironmentStatus, gate string) bool {
	for _, g := range e.PendingGates() {
		if g.Name == gate {
			return true
		}
	}
	return false
}

// environment is st's environment called name.
func environment(st workflows.ReleaseStatus, name string) (workflows.EnvironmentStatus, bool) {
	for _, e := range st.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return workflows.EnvironmentStatus{}, false
}

// where says where a release is, for a refusal.
func where(st workflows.ReleaseStatus) string {
	if cur, ok := st.Current(); ok {
		return " in " + cur.Name
	}
	return ""
}
