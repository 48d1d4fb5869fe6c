package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
)

// environment is the state of one Environment workflow execution. Update
// handlers and the main loop share it; Temporal runs them on one goroutine at
// a time, so no locking is needed.
type environment struct {
	in     EnvironmentInput
	status EnvironmentStatus
	plan   []plannedStep
	comps  []compensation
	log    log.Logger

	// abort is set by the abort Update or by cancellation of the workflow.
	abort *ControlInput
	// cancelStep interrupts the step that is running now (nil between steps).
	cancelStep workflow.CancelFunc
	// parent receives progress snapshots; empty when run on its own.
	parent workflow.Execution
	// coalesce is set when progress goes to the parent once per workflow
	// task (startProgress); dirty marks a snapshot not sent yet.
	coalesce, dirty bool
	// sentPhase is the phase of the last snapshot sent (PhasesOnly).
	sentPhase string
	// auditSeq numbers audit records so their IDs are stable on replay.
	auditSeq int
	// outputs are the provision step's non-sensitive outputs, for
	// ${outputs.NAME} in later steps.
	outputs map[string]string
	// slots is set once select-slot read the router (traffic environments).
	slots *slotChoice
	// namespace is the workflow's Temporal namespace, for Web UI links.
	namespace string
	// thread is the Slack message whose thread gets the progress: the
	// environment's first gate message.
	thread struct{ channel, ts string }
	// preview is what the steps after the first Slack gate will change,
	// shown in the gate messages; nil until computed.
	preview *changePreview
	// truthful is set for runs started with the truthful rollback
	// (truthfulRollbackChange): compensations registered before the side
	// effect, awaited cancellation, read-back of every undo.
	truthful bool
	// sig checks who decides (signedDecisionsChange).
	sig signing
	// glance is set for runs started with atAGlanceChange.
	glance bool
	// lean is set for runs started with leanChange; quietApprove for
	// those started with its version 2.
	lean, quietApprove bool
	// quiet is set for runs started with version 3 of leanChange.
	quiet bool
	// Set for runs started with version 4 of leanChange: rootsAtDecision
	// re-reads the trust roots as a signed decision arrives (and as a gate
	// opens only when the last read is older than rootsFresh); quietFinish
	// sends no snapshot as the environment finishes.
	rootsAtDecision, quietFinish bool
	// together is set for runs started with version 5 of leanChange:
	// auditLater holds a record back (held) to go with the next one in a
	// single local activity; auditWriting counts the writes in flight.
	together     bool
	held         []audit.Entry
	auditWriting int
	// settles is set for runs started with version 6 of leanChange: what
	// follows a person's decision waits for its record (settle).
	settles bool
}

// plannedStep is a step of the environment plus what the interpreter needs.
type plannedStep struct {
	step runbooks.Step
	// builtin is set for the checks every environment runs first.
	builtin string
	// gate is set for approval steps (environment approvals and approval steps).
	gate *runbooks.Approval
	// kind runs every other step (nil for a kind this worker lacks);
	// changes is its table row's.
	kind    stepKind
	changes bool
}

// failure is why an environment stopped before its last step.
type failure struct {
	cause   string // ErrType* constant
	message string
}

func (f *failure) Error() string { return f.message }

// Environment runs one environment of a release: release window, artifact
// check, approval gates and steps in order; on failure, rejection, timeout or
// abort it runs the compensations of every completed step in reverse.
func Environment(ctx workflow.Context, in EnvironmentInput) (EnvironmentResult, error) {
	e := newEnvironment(ctx, in)
	lean := givenLeanVersion(ctx, in.Lean)
	e.lean, e.quietApprove, e.quiet = lean >= 1, lean >= 2, lean >= 3
	e.rootsAtDecision, e.quietFinish = lean >= 4, lean >= 4
	e.together, e.settles = lean >= 5, lean >= 6
	e.truthful = changed(ctx, e.lean, truthfulRollbackChange)
	e.sig.on = changed(ctx, e.lean, signedDecisionsChange)
	e.glance = changed(ctx, e.lean, atAGlanceChange)
	if err := e.registerHandlers(ctx); err != nil {
		return EnvironmentResult{}, err
	}
	e.startProgress(ctx)
	fail := e.run(ctx)
	if fail != nil {
		e.flushAudit(ctx)
		e.rollback(ctx, fail)
	} else {
		for i := range e.status.Compensations {
			e.status.Compensations[i].State = StateNotNeeded
		}
		e.finish(ctx, StateSucceeded, "")
	}
	// Let in-flight Update handlers (e.g. an audit write) finish before the
	// workflow closes, or their callers would see an error; and audit
	// records the store refused at first are written before it closes.
	if e.truthful {
		ctx, _ = workflow.NewDisconnectedContext(ctx)
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && e.status.AuditPending == 0 })
	if fail != nil {
		return EnvironmentResult{Status: e.status}, temporal.NewNonRetryableApplicationError(
			e.status.Reason, fail.cause, nil, e.status)
	}
	return EnvironmentResult{Status: e.status}, nil
}

func newEnvironment(ctx workflow.Context, in EnvironmentInput) *environment {
	info := workflow.GetInfo(ctx)
	e := &environment{in: in, log: workflow.GetLogger(ctx), namespace: info.Namespace}
	if info.ParentWorkflowExecution != nil {
		e.parent = *info.ParentWorkflowExecution
	}
	e.status = EnvironmentStatus{
		Name:       in.Env.Name,
		WorkflowID: info.WorkflowExecution.ID,
		RunID:      info.WorkflowExecution.RunID,
		State:      StatePending,
	}
	e.plan = planSteps(in)
	for _, p := range e.plan {
		e.status.Steps = append(e.status.Steps, newStepStatus(p, in.Policy))
	}
	e.status.Compensations = []CompensationStatus{}
	return e
}

// planSteps turns the environment into the ordered list the interpreter runs:
// the environment's approval gates first, then its steps.
func planSteps(in EnvironmentInput) []plannedStep {
	var plan []plannedStep
	if in.Env.ReleaseWindow != nil {
		plan = append(plan, plannedStep{step: runbooks.Step{Name: BuiltinWindow}, builtin: BuiltinWindow})
	}
	plan = append(plan, plannedStep{step: runbooks.Step{Name: BuiltinArtifact}, builtin: BuiltinArtifact})
	if in.Env.Traffic != nil {
		plan = append(plan, plannedStep{step: runbooks.Step{Name: BuiltinSlots}, builtin: BuiltinSlots})
	}
	if in.Policy.Risk != nil {
		plan = append(plan, plannedStep{step: runbooks.Step{Name: BuiltinRisk}, builtin: BuiltinRisk})
	}
	for _, a := range in.Env.Approvals {
		plan = append(plan, gatePlan(a))
	}
	for _, s := range in.Env.Steps {
		p := plannedStep{step: s}
		if s.Approval != nil {
			p.gate = &runbooks.Approval{Name: s.Name, Approvers: s.Approval.Approvers,
				MinApprovals: s.Approval.MinApprovals, Timeout: s.Approval.Timeout, Instructions: s.Approval.Instructions,
				RejectNeedsReason: s.Approval.RejectNeedsReason, EscalateTo: s.Approval.EscalateTo, RemindAfter: s.Approval.RemindAfter}
		}
		plan = append(plan, p)
	}
	for k := range plan {
		if plan[k].gate == nil {
			plan[k].kindOf()
		}
	}
	return plan
}

// gatePlan is the planned step of an approval gate.
func gatePlan(a runbooks.Approval) plannedStep {
	return plannedStep{step: runbooks.Step{Name: a.Name, Approval: &runbooks.ApprovalStep{
		Approvers: a.Approvers, MinApprovals: a.MinApprovals, Timeout: a.Timeout, Instructions: a.Instructions,
		RejectNeedsReason: a.RejectNeedsReason, EscalateTo: a.EscalateTo, RemindAfter: a.RemindAfter,
	}}, gate: &a}
}

func newStepStatus(p plannedStep, pol runbooks.Policy) StepStatus {
	st := StepStatus{Name: p.step.Name, Kind: p.step.Kind(), State: StatePending}
	if p.builtin != "" {
		st.Kind = p.builtin
	}
	if p.gate != nil {
		st.Kind = runbooks.KindApproval
		st.Gate = &GateStatus{
			Name:              p.gate.Name,
			State:             StatePending,
			Approvers:         p.gate.Approvers,
			MinApprovals:      max(1, p.gate.MinApprovals),
			Instructions:      p.gate.Instructions,
			RejectNeedsReason: p.gate.RejectNeedsReason,
			EscalateTo:        p.gate.EscalateTo,
			RemindAfter:       time.Duration(p.gate.RemindAfter),
		}
	}
	return st
}

// run executes the environment and returns why it stopped early, or nil.
func (e *environment) run(ctx workflow.Context) *failure {
	e.status.State = StateRunning
	e.status.StartedAt = workflow.Now(ctx)
	e.upsertAttrs(ctx)
	// Held for the requester's record (establishIdentity) or the first
	// step's flush: nothing between them acts on a system.
	e.auditLater(ctx, auditRecord{action: "environment.started", outcome: StateRunning})
	e.publish(ctx)
	if f := e.establishIdentity(ctx); f != nil {
		e.markNotReached(0)
		return f
	}

	// The plan may grow while it runs (assess-risk adds gates): no range.
	for i := 0; i < len(e.plan); i++ {
		if f := e.awaitUnpaused(ctx); f != nil {
			e.markNotReached(i)
			return f
		}
		if f := e.runStep(ctx, i); f != nil {
			e.markNotReached(i + 1)
			return f
		}
	}
	return nil
}

// markNotReached records that steps from index i on will never run.
func (e *environment) markNotReached(from int) {
	for j := from; j < len(e.status.Steps); j++ {
		if e.status.Steps[j].State == StatePending {
			e.status.Steps[j].State = StateNotReached
		}
	}
}

// runStep runs step i with a cancellable context so abort can interrupt it.
func (e *environment) runStep(ctx workflow.Context, i int) *failure {
	p := e.plan[i]
	if p.gate == nil {
		// A step acts; a gate's opening writes its record first
		// (gate.waiting), and held records with it.
		e.flushAudit(ctx)
	}
	st := &e.status.Steps[i]
	st.State, st.StartedAt = StateRunning, workflow.Now(ctx)
	e.status.CurrentStep = st.Name
	if !e.quiet || p.gate == nil {
		// A gate's opening writes them, in this workflow task (quiet).
		e.upsertAttrs(ctx)
	}
	e.publish(ctx)

	stepCtx, cancel := workflow.WithCancel(ctx)
	e.cancelStep = cancel
	defer func() { e.cancelStep = nil }()

	var f *failure
	if p.gate != nil {
		f = e.runGate(stepCtx, i)
	} else {
		f = e.runAction(stepCtx, i)
	}
	// assess-risk may have grown the step list: take the step afresh.
	st = &e.status.Steps[i]
	if f == nil && e.abort != nil {
		f = e.abortFailure()
	}
	e.awaitHandlers(ctx)
	st.EndedAt = workflow.Now(ctx)
	if f != nil {
		if st.State == StateRunning || st.State == StateWaiting {
			st.State = StateFailed
			if f.cause == ErrTypeAborted {
				st.State = StateInterrupted
			}
		}
		st.Error = f.message
		e.audit(ctx, auditRecord{action: "step.failed", step: st.Name, outcome: st.State, detail: f.message})
		e.slackProgress(ctx, fmt.Sprintf("%s: %s — %s", st.Name, st.State, f.message))
		return f
	}
	st.State = StateSucceeded
	if p.gate != nil {
		st.State = StateApproved
	}
	// Held for what comes next: the next gate's opening, the
	// environment's end, or the flush before the next step acts.
	e.auditLater(ctx, auditRecord{action: "step.succeeded", step: st.Name, outcome: st.State, detail: st.Detail})
	e.publish(ctx)
	if p.gate == nil {
		e.slackProgress(ctx, fmt.Sprintf("%s: %s %s", st.Name, st.State, st.Detail))
	}
	return nil
}

// runAction runs a non-gate step through its kind. Steps that change
// something wait for the release window and freezes first, and register
// their on-rollback hook.
func (e *environment) runAction(ctx workflow.Context, i int) *failure {
	p := e.plan[i]
	if p.kind == nil {
		return unsupported(p.step)
	}
	if p.changes {
		if err := e.hold(ctx, i); err != nil {
			return e.stepFailure(ctx, err)
		}
	}
	err := p.kind.run(ctx, e, i)
	if p.changes && p.step.OnRollback != nil && (err == nil || e.truthful) {
		// A step that failed or was interrupted may still have had its
		// effect (a POST answered after the abort): its hook undoes it.
		e.pushCompensation(compensation{step: p.step.Name, undo: &hookUndo{step: p.step.Name, hook: p.step.OnRollback}})
	}
	if err != nil {
		return e.stepFailure(ctx, err)
	}
	return nil
}

// stepFailure turns an activity error into a failure, telling an abort (the
// step was cancelled) apart from the step's own error.
func (e *environment) stepFailure(ctx workflow.Context, err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) || ctx.Err() != nil {
		e.abortFromCancel()
		return e.abortFailure()
	}
	return &failure{cause: ErrTypeStepFailed, message: fmt.Sprintf("step %s failed: %s",
		e.status.CurrentStep, rootMessage(err))}
}

func (e *environment) abortFailure() *failure {
	msg := "aborted by " + e.abort.Actor
	if e.abort.Reason != "" {
		msg += ": " + e.abort.Reason
	}
	return &failure{cause: ErrTypeAborted, message: msg}
}

// awaitUnpaused blocks while the environment is paused; an abort ends the wait.
func (e *environment) awaitUnpaused(ctx workflow.Context) *failure {
	// Await returns at once when the condition holds, even on a cancelled
	// context: the cancellation is looked at apart.
	paused := e.status.Paused
	if paused {
		e.flushAudit(ctx) // a pause may last: its records go now
	}
	if err := workflow.Await(ctx, func() bool { return !e.status.Paused || e.abort != nil }); err != nil || ctx.Err() != nil {
		e.abortFromCancel()
	}
	if e.abort != nil {
		return e.abortFailure()
	}
	if paused {
		e.settle(ctx) // the resume's record, before the release goes on
	}
	return nil
}

// abortFromCancel records a cancellation of the workflow (e.g. from the Web
// UI) as an abort, so it rolls back like one.
func (e *environment) abortFromCancel() {
	if e.abort == nil {
		e.abort = &ControlInput{Actor: "temporal", Reason: "workflow cancelled"}
	}
}

// awaitHandlers lets running Update handlers write their audit record
// first, so the log shows a decision before what it caused.
func (e *environment) awaitHandlers(ctx workflow.Context) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// finish records the final state and tells the release.
func (e *environment) finish(ctx workflow.Context, state, reason string) {
	e.awaitHandlers(ctx)
	e.status.State, e.status.Reason = state, reason
	e.status.EndedAt = workflow.Now(ctx)
	e.status.CurrentStep = ""
	e.status.Paused = false
	if e.quietFinish {
		// A snapshot marked to send would go out as this workflow
		// closes, superseded at once by its result, which carries the
		// final status to the release. If the record below waits for
		// the audit store, publish marks one again.
		e.dirty = false
	}
	e.upsertAttrs(ctx)
	e.audit(ctx, auditRecord{action: "environment.finished", outcome: state, detail: reason})
	e.publish(ctx)
	msg := fmt.Sprintf("%s %s in %s: %s %s", e.in.Service, e.in.Version, e.status.Name, state, reason)
	for _, l := range e.status.Leftovers {
		msg += fmt.Sprintf("\n• LEFT %s: %s — fix: `%s`", l.Step, l.What, l.Fix)
	}
	e.slackProgress(ctx, msg)
}

// rootMessage returns the message of a Temporal error chain a person can
// act on.
func rootMessage(err error) string {
	// The first application error carries the sentence its activity wrote
	// for people; its causes may only be OS errors without context.
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Message() != "" {
		return appErr.Message()
	}
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return err.Error()
}
