package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// trafficUndo sends all traffic back to the slot that was live: the
// weights the release found, read back from the router afterwards.
type trafficUndo struct {
	live, target string
	gradual      bool
}

func (u *trafficUndo) describe() string {
	how := "at once"
	if u.gradual {
		how = "gradually"
	}
	return fmt.Sprintf("all traffic back to %s %s (%s to 0%%)", u.live, how, u.target)
}

// undo restores the weights found. With the truthful rollback it always
// does: weights are absolute, so setting them again is harmless, and the
// workflow's copy of the weights may predate a call that was still in
// flight when the step was interrupted.
func (u *trafficUndo) undo(ctx workflow.Context, e *environment) (undone, error) {
	if !e.truthful {
		if w := e.status.Traffic.Weights; w[u.target] == e.slots.before[u.target] && w[u.live] == e.slots.before[u.live] {
			return reverted, nil // the breach already sent everything back
		}
	}
	return reverted, e.revertTraffic(ctx)
}

// readBack reads the router's weights: undone only when both slots are back
// at the weights the release found.
func (u *trafficUndo) readBack(ctx workflow.Context, e *environment, _ undone) (observed, error) {
	w, err := e.readWeights(ctx, "read back traffic weights")
	if err != nil {
		return observed{}, err
	}
	before := e.slots.before
	e.status.Traffic.Weights = pick(w, []string{u.live, u.target})
	found := fmt.Sprintf("router weights %s=%d %s=%d", u.live, w[u.live], u.target, w[u.target])
	return observed{ok: w[u.live] == before[u.live] && w[u.target] == before[u.target], found: found}, nil
}

func (u *trafficUndo) leftover(e *environment) Leftover {
	before := e.slots.before
	return Leftover{
		What: fmt.Sprintf("traffic may still reach %s (the new version); %s should have %d%% and %s %d%%",
			u.target, u.live, before[u.live], u.target, before[u.target]),
		Fix: fmt.Sprintf("runbook traffic set %s --env %s %s=%d %s=%d", e.runbookRef(), e.in.Env.Name,
			u.live, before[u.live], u.target, before[u.target]),
	}
}
