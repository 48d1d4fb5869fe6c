package workflows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/activities/flags"
	"go.temporal.io/sdk/workflow"
)

// killOnBreach turns the environment's kill-on-breach flags off, first
// thing when an SLO breach ends a step (skip: the flags the step itself
// restores). It never holds the rollback: a flag that cannot be turned off
// is audited and shown, and the rollback goes on.
func (e *environment) killOnBreach(ctx workflow.Context, step string, skip []string) {
	fl := e.in.Env.Flags
	if fl == nil {
		return
	}
	var kill []string
	for _, f := range fl.KillOnBreach {
		if !slices.Contains(skip, f) {
			kill = append(kill, f)
		}
	}
	if len(kill) == 0 {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	target := flags.Target{Provider: fl.Provider, Options: fl.Options, Flags: kill}
	var res flags.ReadFlagsResult
	err := workflow.ExecuteActivity(flagCtx(ctx, "kill switch: turn "+strings.Join(kill, ", ")+" off"), flagActs.SetFlags,
		flags.SetFlagsInput{Target: target, Rollout: flags.Rollout{}}).Get(ctx, &res)
	outcome, detail := StateSucceeded, fmt.Sprintf("SLO breach in %s: kill switch turned %s off", step, strings.Join(kill, ", "))
	if err != nil {
		outcome, detail = StateFailed, fmt.Sprintf("SLO breach in %s: the kill switch could not turn %s off: %s", step, strings.Join(kill, ", "), rootMessage(err))
	}
	for _, d := range res.Definitions {
		e.status.Flags = append(e.status.Flags, FlagStatus{Flag: d.Flag, Step: step, Rollout: d.Describe() + " (kill switch)"})
	}
	e.audit(ctx, auditRecord{action: ActionFlagOff, actor: "runbook", step: step, outcome: outcome, detail: detail})
	e.publish(ctx)
}
