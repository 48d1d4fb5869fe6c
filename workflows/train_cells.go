package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/runbooks"
)

// runningCell is a cell whose release runs.
type runningCell struct {
	j     int
	child workflow.ChildWorkflowFuture
}

// runCells releases every service into environment i in dependency order,
// several at once where after: allows, and returns the cells that failed.
// After the first failure (or an abort) it starts nothing new and waits for
// the releases still running.
func (t *train) runCells(ctx, cctx workflow.Context, i int) []int {
	te := &t.status.Environments[i]
	var running []runningCell
	var failed []int
	for {
		if len(failed) == 0 && t.abortedBy() == "" {
			for _, j := range readyCells(te.Cells) {
				running = append(running, runningCell{j: j, child: t.startCell(ctx, cctx, i, j)})
			}
		}
		if len(running) == 0 {
			break
		}
		k := t.awaitCell(ctx, running)
		rc := running[k]
		running = slices.Delete(running, k, k+1)
		if !t.finishCell(ctx, i, rc) {
			failed = append(failed, rc.j)
		}
	}
	t.markStopped(i, failed)
	return failed
}

// readyCells are the pending cells whose after: services all succeeded.
func readyCells(cells []TrainCell) []int {
	var out []int
	for j, c := range cells {
		if c.State != StatePending {
			continue
		}
		ready := true
		for _, dep := range c.After {
			k := slices.IndexFunc(cells, func(o TrainCell) bool { return o.Service == dep })
			if k >= 0 && cells[k].State != StateSucceeded {
				ready = false
			}
		}
		if ready {
			out = append(out, j)
		}
	}
	return out
}

// startCell starts service j's release into environment i.
func (t *train) startCell(ctx, cctx workflow.Context, i, j int) workflow.ChildWorkflowFuture {
	te := &t.status.Environments[i]
	c := &te.Cells[j]
	in := t.cellInput(i, j)
	c.State, c.StartedAt = StateRunning, workflow.Now(ctx)
	t.audit(ctx, "train.service.started", t.in.Requester, StateRunning, te.Name, fmt.Sprintf("%s %s as %s", c.Service, c.Version, c.ReleaseID))
	t.publish(ctx)
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            c.ReleaseID,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		StaticSummary:         fmt.Sprintf("%s %s → %s (train %s)", c.Service, c.Version, te.Name, t.status.TrainID),
		TypedSearchAttributes: temporal.NewSearchAttributes(ReleaseSearchAttributes(in)...),
	}
	return workflow.ExecuteChildWorkflow(workflow.WithChildOptions(cctx, opts), ReleaseWorkflowName, in)
}

// cellInput is service j's release into environment i only: its runbook
// with that one environment, signed ahead by the requester.
func (t *train) cellInput(i, j int) ReleaseInput {
	env := t.in.Environments[i]
	s := t.service(t.status.Environments[i].Cells[j].Service)
	in := s.Release
	rb := in.Runbook
	k := slices.IndexFunc(rb.Environments, func(e runbooks.Environment) bool { return e.Name == env })
	e := rb.Environments[k]
	// The train orders environments and soaks nothing itself: the cell
	// runs the environment alone.
	e.Wave, e.Soak = "", 0
	rb.Environments = []runbooks.Environment{e}
	in.Runbook = rb
	in.Train = t.status.TrainID
	in.UIURL = t.in.UIURL
	in.RequesterProof = nil
	for _, p := range s.Proofs {
		if p.Environment == env {
			in.RequesterProof = p.Proof
		}
	}
	in.RequestedAt = t.status.StartedAt
	return in
}

// service is the train's service called name.
func (t *train) service(name string) TrainService {
	for _, s := range t.in.Services {
		if s.Name == name {
			return s
		}
	}
	return TrainService{}
}

// awaitCell waits for one running release to close and returns its index.
func (t *train) awaitCell(ctx workflow.Context, running []runningCell) int {
	done := -1
	sel := workflow.NewSelector(ctx)
	for k, rc := range running {
		sel.AddFuture(rc.child, func(workflow.Future) { done = k })
	}
	sel.Select(ctx)
	return done
}

// finishCell records a closed release's outcome and reports success.
func (t *train) finishCell(ctx workflow.Context, i int, rc runningCell) bool {
	te := &t.status.Environments[i]
	c := &te.Cells[rc.j]
	var res ReleaseResult
	err := rc.child.Get(ctx, &res)
	c.EndedAt = workflow.Now(ctx)
	if err == nil {
		c.State = StateSucceeded
		t.audit(ctx, "train.service.succeeded", t.in.Requester, StateSucceeded, te.Name, c.Service+" "+c.Version)
		t.publish(ctx)
		t.slackProgress(ctx, fmt.Sprintf("%s: %s %s succeeded", te.Name, c.Service, c.Version))
		return true
	}
	c.State, c.Reason = StateFailed, rootMessage(err)
	var app *temporal.ApplicationError
	var st ReleaseStatus
	if errors.As(err, &app) && app.HasDetails() && app.Details(&st) == nil && st.State != "" {
		c.State, c.Reason = st.State, st.Reason
	}
	t.audit(ctx, "train.service.failed", t.in.Requester, c.State, te.Name, fmt.Sprintf("%s %s: %s", c.Service, c.Version, c.Reason))
	t.publish(ctx)
	t.slackProgress(ctx, fmt.Sprintf("%s: %s %s %s: %s", te.Name, c.Service, c.Version, c.State, c.Reason))
	return false
}

// markStopped says why the cells that never started did not.
func (t *train) markStopped(i int, failed []int) {
	te := &t.status.Environments[i]
	why := "the train was aborted"
	if len(failed) > 0 {
		names := make([]string, len(failed))
		for k, j := range failed {
			names[k] = te.Cells[j].Service
		}
		why = "the train stopped after " + strings.Join(names, ", ") + " failed"
	}
	for j := range te.Cells {
		if te.Cells[j].State == StatePending {
			te.Cells[j].State, te.Cells[j].Reason = StateNotReached, why
		}
	}
}

// rollbackSet is, for the cells of one environment and those that failed,
// the succeeded cells the scope rolls back, dependents before what they
// depend on; and for every other succeeded cell, why it stays.
func rollbackSet(cells []TrainCell, failed []int, scope string) (order []int, kept map[int]string) {
	kept = map[int]string{}
	names := make([]string, len(failed))
	for k, j := range failed {
		names[k] = cells[j].Service
	}
	failedNames := strings.Join(names, ", ")
	in := map[int]bool{}
	for j, c := range cells {
		if c.State != StateSucceeded {
			continue
		}
		switch {
		case scope == TrainScopeNone:
			kept[j] = "kept: rollback-scope none"
		case scope == TrainScopeEnvironment:
			in[j] = true
		case dependsOnAny(cells, j, failed):
			in[j] = true
		default:
			kept[j] = fmt.Sprintf("kept: does not depend on %s (rollback-scope dependents)", failedNames)
		}
	}
	// Dependents first: a cell goes once every cell that depends on it has.
	for progress := true; progress && len(order) < len(in); {
		progress = false
		for j := len(cells) - 1; j >= 0; j-- {
			if in[j] && !slices.Contains(order, j) && !hasPendingDependent(cells, j, in, order) {
				order, progress = append(order, j), true
			}
		}
	}
	return order, kept
}

// dependsOnAny reports whether cell j depends, through after:, on any of targets.
func dependsOnAny(cells []TrainCell, j int, targets []int) bool {
	seen := map[int]bool{}
	var walk func(j int) bool
	walk = func(j int) bool {
		if seen[j] {
			return false
		}
		seen[j] = true
		for _, dep := range cells[j].After {
			k := slices.IndexFunc(cells, func(o TrainCell) bool { return o.Service == dep })
			if k < 0 {
				continue
			}
			if slices.Contains(targets, k) || walk(k) {
				return true
			}
		}
		return false
	}
	return walk(j)
}

// hasPendingDependent reports whether a cell of set that depends on j is
// not in order yet.
func hasPendingDependent(cells []TrainCell, j int, set map[int]bool, order []int) bool {
	for k := range cells {
		if set[k] && k != j && !slices.Contains(order, k) && dependsOnAny(cells, k, []int{j}) {
			return true
		}
	}
	return false
}

// rollBack rolls back, after failed cells in environment i, what the scope
// names, one at a time, dependents first. Each is the one-command rollback
// of that service there (the version before the train's), started as a
// child so the train ends only once each finished.
func (t *train) rollBack(ctx workflow.Context, i int, failed []int) {
	te := &t.status.Environments[i]
	order, kept := rollbackSet(te.Cells, failed, t.in.Scope)
	for j := range te.Cells {
		if why, ok := kept[j]; ok {
			te.Cells[j].Reason = why
		}
	}
	for _, j := range order {
		t.rollBackCell(ctx, i, j, failed)
	}
	t.publish(ctx)
}

// rollBackCell rolls back cell j of environment i.
func (t *train) rollBackCell(ctx workflow.Context, i, j int, failed []int) {
	te := &t.status.Environments[i]
	c := &te.Cells[j]
	why := fmt.Sprintf("train %s: %s failed in %s (rollback-scope %s)", t.status.TrainID, te.Cells[failed[0]].Service, te.Name, t.in.Scope)
	if t.abortedBy() != "" {
		why = fmt.Sprintf("train %s aborted by %s (rollback-scope %s)", t.status.TrainID, t.abortedBy(), t.in.Scope)
	}
	rb := TrainRollback{Service: c.Service, State: StateRunning, Why: why}
	te.Rollbacks = append(te.Rollbacks, rb)
	k := len(te.Rollbacks) - 1
	t.publish(ctx)
	plan, err := t.planRollback(ctx, PlanTrainRollbackInput{Service: c.Service, Environment: te.Name, ReleaseID: c.ReleaseID,
		Reason: why, Requester: t.in.Requester})
	switch {
	case err != nil:
		te.Rollbacks[k].State, te.Rollbacks[k].Why = StateFailed, "could not plan the rollback: "+rootMessage(err)
	case plan.Nothing != "":
		te.Rollbacks[k].State, te.Rollbacks[k].Why = StateNothingToUndo, plan.Nothing
	default:
		id := TrainRollbackID(c.ReleaseID)
		te.Rollbacks[k].ReleaseID, te.Rollbacks[k].To = id, plan.Input.Version
		if refused := t.signRollback(&plan.Input, c.Service, te.Name); refused != "" {
			te.Rollbacks[k].State, te.Rollbacks[k].Why = StateFailed, refused
			break
		}
		te.Rollbacks[k].State = t.runRollback(ctx, i, id, plan.Input)
		if te.Rollbacks[k].State == StateSucceeded {
			c.State, c.Reason = StateRolledBack, fmt.Sprintf("rolled back to %s by %s", plan.Input.Version, id)
		}
	}
	t.audit(ctx, "train.rollback", t.in.Requester, te.Rollbacks[k].State, te.Name,
		fmt.Sprintf("%s: %s; %s", c.Service, te.Rollbacks[k].Why, te.Rollbacks[k].ReleaseID))
	t.slackProgress(ctx, fmt.Sprintf("%s: rollback of %s to %s %s", te.Name, c.Service, te.Rollbacks[k].To, te.Rollbacks[k].State))
	t.publish(ctx)
}

// planRollback asks the worker's releases client what to put back.
func (t *train) planRollback(ctx workflow.Context, in PlanTrainRollbackInput) (PlanTrainRollbackResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
		Summary:             "plan the rollback of " + in.Service + " in " + in.Environment,
	})
	var res PlanTrainRollbackResult
	err := workflow.ExecuteActivity(actx, PlanTrainRollbackActivity, in).Get(ctx, &res)
	return res, err
}

// signRollback puts the requester's signature of the rollback, made at
// the train's start, on the rollback's input; it refuses ("" when not)
// when the version to put back is not the one signed then: someone
// released the service there in between, and a person should decide.
func (t *train) signRollback(in *ReleaseInput, service, env string) string {
	for _, p := range t.service(service).Proofs {
		if p.Environment != env || p.RollbackProof == nil {
			continue
		}
		if p.RollbackTo != in.Version {
			return fmt.Sprintf("the train was signed to put back %s, but %s was live before its release: roll back by hand (runbook rollback %s --env %s)",
				p.RollbackTo, in.Version, in.Runbook.Service, env)
		}
		in.RequesterProof, in.RequestedAt = p.RollbackProof, t.status.StartedAt
	}
	return ""
}

// runRollback runs the planned rollback release and returns its state.
func (t *train) runRollback(ctx workflow.Context, i int, id string, in ReleaseInput) string {
	in.Train, in.UIURL = t.status.TrainID, t.in.UIURL
	opts := workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		StaticSummary:         fmt.Sprintf("ROLLBACK %s → %s in %s (train %s)", in.Runbook.Service, in.Version, t.in.Environments[i], t.status.TrainID),
		TypedSearchAttributes: temporal.NewSearchAttributes(ReleaseSearchAttributes(in)...),
	}
	var res ReleaseResult
	err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, opts), ReleaseWorkflowName, in).Get(ctx, &res)
	if err == nil {
		return StateSucceeded
	}
	var app *temporal.ApplicationError
	var st ReleaseStatus
	if errors.As(err, &app) && app.HasDetails() && app.Details(&st) == nil && st.State != "" {
		return st.State
	}
	return StateFailed
}
