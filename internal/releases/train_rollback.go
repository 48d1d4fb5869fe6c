package releases

import (
	"context"
	"errors"
	"fmt"

	"github.com/runbookhq/runbook/workflows"
)

// PlanTrainRollback is the activity a Train runs after a service failed in
// an environment: the one-command rollback of another service the train
// released there, planned exactly as `runbook rollback` plans it, under the
// next free rollback ID. When nothing ran there before the train, the
// result says so (Nothing) instead of failing: a first install stays.
func (c *Client) PlanTrainRollback(ctx context.Context, in workflows.PlanTrainRollbackInput) (workflows.PlanTrainRollbackResult, error) {
	plan, err := c.PlanRollback(ctx, RollbackOptions{Service: in.Service, Environment: in.Environment,
		Reason: in.Reason, Requester: in.Requester})
	var nothing *NothingToRollBackError
	if errors.As(err, &nothing) {
		return workflows.PlanTrainRollbackResult{Nothing: err.Error()}, nil
	}
	if err != nil {
		return workflows.PlanTrainRollbackResult{}, err
	}
	if plan.Current.ReleaseID != in.ReleaseID {
		// Someone released the service there after the train did: putting
		// back what was before the train would undo their release too.
		return workflows.PlanTrainRollbackResult{Nothing: fmt.Sprintf("%s is live there now, not the train's %s: left as it is",
			plan.Current.ReleaseID, in.ReleaseID)}, nil
	}
	if c.UIURL != "" {
		plan.Input.UIURL = c.UIURL
	}
	return workflows.PlanTrainRollbackResult{Input: plan.Input, To: plan.Target.Version, Path: plan.Path}, nil
}

// liveIn is the release live in env (the last that succeeded there), if any.
func (c *Client) liveIn(ctx context.Context, service, env string) (workflows.ReleaseStatus, bool, error) {
	items, err := c.List(ctx, ListFilter{Service: service, Environment: env, Limit: historyDepth})
	if err != nil {
		return workflows.ReleaseStatus{}, false, err
	}
	for _, it := range items {
		if it.Status != workflows.StateSucceeded {
			continue
		}
		st, err := c.Status(ctx, it.ReleaseID)
		if err != nil {
			return st, false, fmt.Errorf("status of %s: %w", it.ReleaseID, err)
		}
		if e, ok := envOf(st, env); ok && e.State == workflows.StateSucceeded {
			return st, true, nil
		}
	}
	return workflows.ReleaseStatus{}, false, nil
}
