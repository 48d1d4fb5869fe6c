package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/terraform"
)

// infraUndo is the compensation of a provision step, chosen by the
// runbook's infra.on-rollback: re-apply the previous release's variables
// (restore, the default) or destroy what the release created. A first
// release has nothing to restore, so it is destroyed either way.
type infraUndo struct {
	ws              terraform.Workspace
	restore         bool
	previous        map[string]string
	previousVersion string
	// seen is what undo's own plan showed when it had nothing to apply:
	// that plan already is the read-back.
	seen *observed
}

func (u *infraUndo) describe() string {
	where := u.ws.Environment
	if u.ws.Slot != "" {
		where += " slot " + u.ws.Slot
	}
	if u.restore {
		return fmt.Sprintf("restore %s infrastructure to %s (re-apply its variables)", where, u.previousVersion)
	}
	return fmt.Sprintf("destroy the %s infrastructure this release created", where)
}

// newInfraUndo is the undo of an applied (or applying) plan, nil for a plan
// without changes: there is nothing of this release to undo.
func (k *provisionKind) newInfraUndo(e *environment, ws terraform.Workspace, plan terraform.PlanResult) *infraUndo {
	if !plan.Changes {
		return nil
	}
	u := &infraUndo{ws: ws}
	if e.in.Env.Infra.OnRollback != "destroy" && plan.Previous != nil {
		u.restore, u.previous, u.previousVersion = true, plan.Previous, plan.PreviousVersion
	}
	return u
}

// pushInfraCompensation registers the undo of an applied plan.
func (k *provisionKind) pushInfraCompensation(e *environment, step string, ws terraform.Workspace, plan terraform.PlanResult) {
	if u := k.newInfraUndo(e, ws, plan); u != nil {
		e.pushCompensation(compensation{step: step, undo: u})
	}
}

// replaceInfraCompensation registers the undo of the plan about to be
// applied, in place of the one of an earlier, stale plan of the same step.
func (k *provisionKind) replaceInfraCompensation(e *environment, step string, ws terraform.Workspace, plan terraform.PlanResult) {
	if u := k.newInfraUndo(e, ws, plan); u != nil {
		e.replaceCompensation(compensation{step: step, undo: u})
	}
}

// undo runs an infra compensation. Restoring plans and applies without a
// gate: the rollback must not wait for a person, and the plan is the one a
// person approved for the previous release. A restore whose plan shows no
// changes had nothing to undo (the apply never changed anything).
func (u *infraUndo) undo(ctx workflow.Context, e *environment) (undone, error) {
	if !u.restore {
		actx := workflow.WithActivityOptions(ctx, e.tfOptions(2*time.Hour, "destroy "+u.ws.Environment+" infra"))
		return reverted, workflow.ExecuteActivity(actx, tfActs.Destroy, terraform.DestroyInput{Workspace: u.ws}).Get(actx, nil)
	}
	ws := u.restored()
	for attempt := 1; ; attempt++ {
		plan, err := e.tfPlan(ctx, ws)
		if err != nil {
			return reverted, err
		}
		if !plan.Changes {
			if e.truthful {
				u.seen = &observed{ok: true, found: fmt.Sprintf("state matches %s (plan: no changes)", u.previousVersion)}
				return nothingToUndo, nil
			}
			return reverted, nil
		}
		_, err = e.tfApply(ctx, ws, plan)
		if isPlanStale(err) && attempt < staleReplans {
			continue
		}
		return reverted, err
	}
}

// restored is the workspace with the previous release's variables.
func (u *infraUndo) restored() terraform.Workspace {
	ws := u.ws
	ws.Vars, ws.Version = u.previous, u.previousVersion
	return ws
}

// readBack reads the state: after a restore, a plan of the previous
// release's variables must show no changes; after a destroy, the state must
// hold no resources.
func (u *infraUndo) readBack(ctx workflow.Context, e *environment, how undone) (observed, error) {
	if how == nothingToUndo && u.seen != nil {
		return *u.seen, nil
	}
	if u.restore {
		plan, err := e.tfPlan(ctx, u.restored())
		if err != nil {
			return observed{}, err
		}
		if plan.Changes {
			return observed{found: fmt.Sprintf("a plan of %s still changes: %s", u.previousVersion, plan.Summary.String())}, nil
		}
		return observed{ok: true, found: fmt.Sprintf("state matches %s (plan: no changes)", u.previousVersion)}, nil
	}
	actx := workflow.WithActivityOptions(ctx, e.tfOptions(10*time.Minute, "read back "+u.ws.Environment+" state"))
	var res terraform.ResourcesResult
	if err := workflow.ExecuteActivity(actx, tfActs.Resources, terraform.ResourcesInput{Workspace: u.ws}).Get(actx, &res); err != nil {
		return observed{}, err
	}
	if len(res.Addresses) > 0 {
		return observed{found: fmt.Sprintf("state still holds %d resources: %s", len(res.Addresses), strings.Join(res.Addresses, ", "))}, nil
	}
	return observed{ok: true, found: "state holds no resources"}, nil
}

func (u *infraUndo) leftover(e *environment) Leftover {
	dir := u.ws.Environment
	if u.ws.Slot != "" {
		dir += "@" + u.ws.Slot
	}
	if u.restore {
		return Leftover{
			What: fmt.Sprintf("the %s infrastructure may not be back at %s", dir, u.previousVersion),
			Fix:  fmt.Sprintf("runbook drift check %s --env %s shows what differs; re-deploy %s to restore it", e.runbookRef(), e.in.Env.Name, u.previousVersion),
		}
	}
	return Leftover{
		What: fmt.Sprintf("resources this release created in %s may still exist", dir),
		Fix: fmt.Sprintf("tofu -chdir=<worker state dir>/state/%s/%s destroy (the worker's RUNBOOK_STATE_DIR; state list shows what is left)",
			e.in.Service, dir),
	}
}
