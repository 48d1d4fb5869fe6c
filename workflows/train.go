package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
)

// train is the state of one Train workflow execution.
type train struct {
	in     TrainInput
	status TrainStatus
	sig    decisionSigning
	// rootsAtGates is set for trains from trainRootsChange on.
	rootsAtGates bool
	// cancelCells cancels the running releases (an abort).
	cancelCells  workflow.CancelFunc
	auditSeq     int
	auditPending int
	// auditWriting counts the audit writes in flight (an Update handler's
	// among them), so what a decision lets happen can wait for its record.
	auditWriting int
	// runID and namespace locate this run (Slack buttons, links);
	// thread is the first Slack gate message, where progress goes.
	runID, namespace string
	thread           *GateStatus
}

// Train releases several services as one: for each of its environments in
// order, it holds until every service may enter (windows, freezes), asks
// the train's own gates once, then releases each service into that
// environment as an ordinary Release child, in dependency order and in
// parallel where after: allows. When a service fails there, the train
// starts nothing new, and rolls back what its rollback scope names, in
// reverse dependency order, through the one-command rollback.
func Train(ctx workflow.Context, in TrainInput) (TrainStatus, error) {
	t := newTrain(ctx, in)
	if err := t.registerHandlers(ctx); err != nil {
		return t.status, err
	}
	t.startSigning(ctx)
	t.audit(ctx, "train.started", in.Requester, StateRunning, "", t.describe())
	t.publish(ctx)
	cctx, cancel := workflow.WithCancel(ctx)
	t.cancelCells = cancel
	var fail error
	for i := range t.status.Environments {
		if fail = t.runEnvironment(ctx, cctx, i); fail != nil {
			t.markNotReached(i + 1)
			break
		}
	}
	t.status.EndedAt = workflow.Now(ctx)
	t.status.Current = ""
	if fail == nil {
		t.status.State = StateSucceeded
	}
	t.publish(ctx)
	t.audit(ctx, "train.finished", in.Requester, t.status.State, "", t.status.Reason)
	t.slackProgress(ctx, fmt.Sprintf("train %s %s: %s %s", in.Train, in.Name, t.status.State, t.status.Reason))
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return t.auditPending == 0 })
	if fail != nil {
		return t.status, temporal.NewNonRetryableApplicationError(t.status.Reason, ErrTypeStepFailed, nil, t.status)
	}
	return t.status, nil
}

func newTrain(ctx workflow.Context, in TrainInput) *train {
	info := workflow.GetInfo(ctx)
	t := &train{in: in, runID: info.WorkflowExecution.RunID, namespace: info.Namespace}
	t.status = TrainStatus{
		TrainID: workflow.GetInfo(ctx).WorkflowExecution.ID, Train: in.Train, Name: in.Name,
		Requester: in.Requester, State: StateRunning, Scope: in.Scope, StartedAt: workflow.Now(ctx),
	}
	for _, env := range in.Environments {
		te := TrainEnvironment{Name: env, State: StatePending}
		for _, g := range in.Gates {
			if g.Environment == env {
				te.Gates = append(te.Gates, newGate(g.Approval))
			}
		}
		for _, s := range in.Services {
			if !hasEnvironment(s.Release.Runbook, env) {
				continue // not every service runs everywhere
			}
			te.Cells = append(te.Cells, TrainCell{Service: s.Name, Version: s.Release.Version, After: s.After,
				ReleaseID: TrainCellID(t.status.TrainID, s.Name, env), State: StatePending})
		}
		t.status.Environments = append(t.status.Environments, te)
	}
	return t
}

// newGate is the status of a train gate not opened yet.
func newGate(a runbooks.Approval) *GateStatus {
	return &GateStatus{Name: a.Name, State: StatePending, Approvers: a.Approvers, MinApprovals: max(a.MinApprovals, 1),
		Instructions: a.Instructions, RejectNeedsReason: a.RejectNeedsReason, EscalateTo: a.EscalateTo,
		RemindAfter: time.Duration(a.RemindAfter)}
}

// runEnvironment takes the train through environment i: hold, gates,
// services; an error ends the train.
func (t *train) runEnvironment(ctx, cctx workflow.Context, i int) error {
	te := &t.status.Environments[i]
	t.status.Current = te.Name
	te.State = StateWaiting
	t.publish(ctx)
	if err := t.hold(cctx, i); err != nil {
		return t.stop(ctx, i, err)
	}
	if err := t.runGates(cctx, i); err != nil {
		return t.stop(ctx, i, err)
	}
	te.State = StateRunning
	t.publish(ctx)
	failed := t.runCells(ctx, cctx, i)
	if len(failed) == 0 && t.abortedBy() == "" {
		te.State = StateSucceeded
		t.publish(ctx)
		return nil
	}
	t.rollBack(ctx, i, failed)
	reason := t.failureReason(i, failed)
	te.State = StateFailed
	t.status.State, t.status.Reason = StateFailed, reason
	if t.abortedBy() != "" {
		te.State, t.status.State = StateAborted, StateAborted
	}
	t.publish(ctx)
	return fmt.Errorf("%s", reason)
}

// stop ends the train at environment i before any service entered it.
func (t *train) stop(ctx workflow.Context, i int, err error) error {
	te := &t.status.Environments[i]
	te.State = StateFailed
	t.status.State = StateFailed
	if t.abortedBy() != "" {
		te.State, t.status.State = StateAborted, StateAborted
		err = fmt.Errorf("aborted by %s: %s", t.status.Abort.Actor, t.status.Abort.Comment)
	}
	for j := range te.Cells {
		te.Cells[j].State = StateNotReached
	}
	t.status.Reason = fmt.Sprintf("%s: %s", te.Name, rootMessage(err))
	t.publish(ctx)
	return err
}

// failureReason says which services failed where.
func (t *train) failureReason(i int, failed []int) string {
	te := t.status.Environments[i]
	if by := t.abortedBy(); by != "" {
		return fmt.Sprintf("%s: aborted by %s: %s", te.Name, by, t.status.Abort.Comment)
	}
	parts := make([]string, len(failed))
	for k, j := range failed {
		c := te.Cells[j]
		parts[k] = fmt.Sprintf("%s %s (%s)", c.Service, c.State, c.Reason)
	}
	return fmt.Sprintf("%s: %s", te.Name, strings.Join(parts, "; "))
}

// markNotReached marks the environments from i on as never entered.
func (t *train) markNotReached(from int) {
	for j := from; j < len(t.status.Environments); j++ {
		te := &t.status.Environments[j]
		te.State = StateNotReached
		for k := range te.Cells {
			te.Cells[k].State = StateNotReached
		}
	}
}

// abortedBy is who aborted the train, "" when nobody did.
func (t *train) abortedBy() string {
	if t.status.Abort == nil {
		return ""
	}
	return t.status.Abort.Actor
}

// describe is the train's first audit detail: what it releases, in which order.
func (t *train) describe() string {
	parts := make([]string, len(t.in.Services))
	for i, s := range t.in.Services {
		parts[i] = s.Name + " " + s.Release.Version
		if len(s.After) > 0 {
			parts[i] += " after " + strings.Join(s.After, ",")
		}
	}
	return fmt.Sprintf("train %s %s (%s): %s into %s; rollback-scope %s", t.in.Train, t.in.Name, t.in.File,
		strings.Join(parts, "; "), strings.Join(t.in.Environments, " → "), t.in.Scope)
}

// audit appends a train record to the audit log.
func (t *train) audit(ctx workflow.Context, action, actor, outcome, env, detail string) {
	t.auditRecord(ctx, audit.Entry{Action: action, Actor: actor, Outcome: outcome, Environment: env, Detail: detail})
}

// auditRecord fills in the record's identity and writes it.
func (t *train) auditRecord(ctx workflow.Context, e audit.Entry) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	t.auditSeq++
	info := workflow.GetInfo(ctx).WorkflowExecution
	e.ID = fmt.Sprintf("%s/%s/%d", info.ID, info.RunID, t.auditSeq)
	e.Time = workflow.Now(ctx).UTC()
	e.Release = info.ID
	t.auditWriting++
	appendAudit(ctx, audit.AppendAuditInput{Entry: e}, &t.auditPending)
	t.auditWriting--
}

// trainDecisionEntry is a train audit record of a person's decision.
func trainDecisionEntry(action, actor, outcome, env, step, detail, channel, ident string) audit.Entry {
	return audit.Entry{Action: action, Actor: actor, Outcome: outcome, Environment: env, Step: step,
		Detail: detail, Channel: channel, Identity: ident}
}
