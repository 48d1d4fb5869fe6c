package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/zones"
	"github.com/runbookhq/runbook/runbooks"
)

// Names tied to holds and break-glass.
const (
	// BreakGlassGate is the gate an emergency release opens at a closed
	// window or a freeze.
	BreakGlassGate = "break-glass"
	// SignalFreezesChanged wakes an environment held by a freeze.
	SignalFreezesChanged = freezes.SignalChanged
	// freezeCheckChange versions the freeze check: releases started before
	// it existed replay without it.
	freezeCheckChange = "freeze-check"
	// freezeRecheckChange versions reading the freezes again by timer when
	// the Freezes workflow could not be told to wake this environment (its
	// run had closed): before it, a release held by an open-ended freeze
	// waited for a signal that could never come.
	freezeRecheckChange = "freeze-recheck"
	// firstFreezeRecheck and lastFreezeRecheck bound that timer: it doubles
	// from the first to the last, so a long outage adds a few events an hour.
	firstFreezeRecheck = time.Minute
	lastFreezeRecheck  = 30 * time.Minute
	// defaultBreakGlassTimeout bounds the wait for the emergency group.
	defaultBreakGlassTimeout = time.Hour
)

// ErrTypeWindowClosed ends a release that reached a closed window whose
// runbook says on-closed: fail.
const ErrTypeWindowClosed = "ReleaseWindowClosed"

var freezeActs *freezes.Activities

// hold keeps step i from starting while the release window is closed or a
// freeze covers the environment. It runs before every step that changes
// something: approvals can take hours, and a freeze may be declared while a
// release is in flight.
func (e *environment) hold(ctx workflow.Context, i int) error {
	for e.status.BreakGlass == "" {
		if _, err := e.holdForWindow(ctx, i); err != nil || e.status.BreakGlass != "" {
			return err
		}
		held, err := e.holdForFreeze(ctx, i)
		if err != nil || !held {
			return err
		}
		// The freeze ended, perhaps after the window closed: look again.
	}
	return nil
}

// holdForWindow keeps step i waiting while the release window is closed,
// fails at once when the runbook says on-closed: fail, or asks for
// break-glass.
func (e *environment) holdForWindow(ctx workflow.Context, i int) (bool, error) {
	w := e.in.Env.ReleaseWindow
	if w == nil {
		return false, nil
	}
	now := workflow.Now(ctx)
	open, why, err := NextOpening(now, *w)
	if err != nil {
		return false, &failure{cause: ErrTypeStepFailed, message: "release window: " + err.Error()}
	}
	if !open.After(now) {
		return false, nil
	}
	opens := "opens " + describeOpening(open, w.Timezone)
	switch {
	case e.in.BreakGlass != nil:
		return true, e.breakGlass(ctx, i, why+"; "+opens)
	case w.OnClosed == runbooks.OnClosedFail:
		return false, &failure{cause: ErrTypeWindowClosed, message: fmt.Sprintf(
			"release window closed: %s; %s (on-closed: fail stops the release instead of waiting; deploy again then)", why, opens)}
	}
	st := &e.status.Steps[i]
	st.State = StateWaiting
	st.Detail = fmt.Sprintf("waiting for window, %s — %s", opens, why)
	e.upsertAttrs(ctx)
	e.publish(ctx)
	timer := workflow.NewTimerWithOptions(ctx, open.Sub(now), workflow.TimerOptions{Summary: "release window opens"})
	if err := timer.Get(ctx, nil); err != nil {
		return true, err // cancelled: an abort, handled by the caller
	}
	st.State, st.Detail = StateRunning, ""
	e.publish(ctx)
	return true, nil
}

// describeOpening says when a window opens in its own zone, with the
// instant in UTC: "Tue 2026-12-01 09:00 CET (08:00 UTC)".
func describeOpening(t time.Time, tz string) string {
	loc := time.UTC
	if l, err := zones.Load(tz); err == nil {
		loc = l
	}
	local := t.In(loc).Format("Mon 2006-01-02 15:04 MST")
	if loc == time.UTC {
		return local
	}
	return fmt.Sprintf("%s (%s)", local, t.UTC().Format("2006-01-02 15:04 UTC"))
}

// holdForFreeze keeps step i waiting while a freeze covers the environment,
// and reports whether it waited. While held, the environment is registered
// with the Freezes workflow, which signals it on every change; a freeze
// with an end also wakes it by timer, and so does a recheck while the
// Freezes workflow cannot be reached (its run closed and was not restarted
// yet), so no release waits for a signal that cannot come.
func (e *environment) holdForFreeze(ctx workflow.Context, i int) (bool, error) {
	if !changed(ctx, e.lean, freezeCheckChange) {
		return false, nil
	}
	held, err := e.freezesHolding(ctx)
	if len(held) == 0 || err != nil {
		return false, err
	}
	if e.in.BreakGlass != nil {
		return true, e.breakGlass(ctx, i, held[0].Describe())
	}
	st := &e.status.Steps[i]
	e.audit(ctx, auditRecord{action: "step.frozen", step: st.Name, outcome: StateWaiting, detail: held[0].Describe()})
	e.slackProgress(ctx, fmt.Sprintf("%s: held by %s", st.Name, held[0].Describe()))
	recheck := time.Duration(0)
	for len(held) > 0 {
		// Register first, then read again: a change between the two reads
		// is either seen by the second read or signalled.
		if e.registerFreezeWatch(ctx) {
			recheck = 0
		} else {
			recheck = e.nextFreezeRecheck(ctx, recheck)
		}
		if held, err = e.freezesHolding(ctx); len(held) == 0 || err != nil {
			break
		}
		st.State = StateWaiting
		st.Detail = fmt.Sprintf("held by %s; lift it with: runbook freeze lift %s --reason ...", held[0].Describe(), held[0].ID)
		if recheck > 0 {
			st.Detail += fmt.Sprintf(" (the Freezes workflow is not running: reading the freezes again in %s)", recheck)
		}
		e.upsertAttrs(ctx)
		e.publish(ctx)
		if err := e.awaitFreezeChange(ctx, held, recheck); err != nil {
			return true, err
		}
		held, err = e.freezesHolding(ctx)
		if err != nil {
			return true, err
		}
	}
	if err != nil {
		return true, err
	}
	st.State, st.Detail = StateRunning, ""
	e.audit(ctx, auditRecord{action: "step.unfrozen", step: st.Name, outcome: StateRunning})
	e.publish(ctx)
	return true, nil
}

// registerFreezeWatch asks the Freezes workflow to signal this environment
// on the next change, and reports whether it could: a closed Freezes run
// (cancelled, terminated) cannot be signalled.
func (e *environment) registerFreezeWatch(ctx workflow.Context) bool {
	watch := workflow.SignalExternalWorkflow(ctx, freezes.WorkflowID, "", freezes.SignalWatch, workflow.GetInfo(ctx).WorkflowExecution)
	if err := watch.Get(ctx, nil); err != nil && ctx.Err() == nil {
		e.log.Warn("could not register with the Freezes workflow; reading the freezes again by timer", "error", err)
		return false
	}
	return true
}

// nextFreezeRecheck is how long to wait before reading the freezes again
// when nobody will signal a change: doubling from firstFreezeRecheck to
// lastFreezeRecheck. Zero (wait for the freeze's end only) for
// environments started before freezeRecheckChange.
func (e *environment) nextFreezeRecheck(ctx workflow.Context, prev time.Duration) time.Duration {
	if !changed(ctx, e.lean, freezeRecheckChange) {
		return 0
	}
	return min(max(2*prev, firstFreezeRecheck), lastFreezeRecheck)
}

// awaitFreezeChange waits for a change signal, the end of the first of held
// to end, the recheck delay when it is not zero, or cancellation (an abort).
func (e *environment) awaitFreezeChange(ctx workflow.Context, held []freezes.Freeze, recheck time.Duration) error {
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	changed := workflow.GetSignalChannel(ctx, SignalFreezesChanged)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(changed, func(c workflow.ReceiveChannel, _ bool) {
		for c.ReceiveAsync(nil) {
		}
	})
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	var end time.Time
	for _, f := range held {
		if !f.To.IsZero() && (end.IsZero() || f.To.Before(end)) {
			end = f.To
		}
	}
	summary := "freeze ends"
	if now := workflow.Now(ctx); recheck > 0 && (end.IsZero() || now.Add(recheck).Before(end)) {
		end, summary = now.Add(recheck), "read the freezes again (the Freezes workflow is not running)"
	}
	if !end.IsZero() {
		timer := workflow.NewTimerWithOptions(tctx, end.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary})
		sel.AddFuture(timer, func(workflow.Future) {})
	}
	sel.Select(ctx)
	if ctx.Err() != nil {
		return temporal.NewCanceledError()
	}
	return nil
}

// freezesHolding reads the freezes (a local activity: one marker event) and
// returns those holding this environment now.
func (e *environment) freezesHolding(ctx workflow.Context) ([]freezes.Freeze, error) {
	wait := freezeReadRetry
	for {
		fs, err := e.readFreezes(ctx)
		if err == nil {
			return freezes.Holding(fs, e.in.Service, e.in.Env.Name, workflow.Now(ctx)), nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		// Not knowing the freezes is not "no freeze": the step waits,
		// visibly, and reads again later (an abort ends the wait).
		st := e.currentStep()
		if st != nil {
			st.State = StateWaiting
			st.Detail = fmt.Sprintf("cannot read the change freezes (%s); reading again in %s", rootMessage(err), wait)
			e.upsertAttrs(ctx)
			e.publish(ctx)
		}
		if err := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: "read the change freezes again"}).Get(ctx, nil); err != nil {
			return nil, err
		}
		if st != nil {
			st.State, st.Detail = StateRunning, ""
		}
		wait = min(2*wait, freezeReadRetryMax)
	}
}

// Freeze reads are bounded local activities; a failed read is tried again
// after freezeReadRetry, doubling up to freezeReadRetryMax.
const (
	freezeReadRetry    = 10 * time.Second
	freezeReadRetryMax = 5 * time.Minute
)

// readFreezes reads every freeze (a local activity: one marker event),
// giving up after a few attempts so a lost Freezes workflow neither grows
// history with retries nor hides why the step does not start.
func (e *environment) readFreezes(ctx workflow.Context) ([]freezes.Freeze, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Second, MaximumAttempts: 3},
		Summary:                "read change freezes",
	})
	var res freezes.ListFreezesResult
	err := workflow.ExecuteLocalActivity(lctx, freezeActs.ListFreezes, freezes.ListFreezesInput{}).Get(lctx, &res)
	return res.Freezes, err
}

// currentStep is the status of the step running now, nil between steps.
func (e *environment) currentStep() *StepStatus {
	for i := range e.status.Steps {
		if e.status.Steps[i].Name == e.status.CurrentStep {
			return &e.status.Steps[i]
		}
	}
	return nil
}

// breakGlass asks the runbook's emergency group to let step i pass what
// blocks it (a closed window or a freeze). Once approved, the environment
// passes every later window and freeze too: the emergency is the release.
func (e *environment) breakGlass(ctx workflow.Context, i int, blocked string) error {
	bg := e.in.Policy.BreakGlass
	if bg == nil || len(bg.Approvers) == 0 {
		return &failure{cause: ErrTypeInvalid, message: "break-glass release blocked (" + blocked +
			"), but the runbook names no policy.break-glass approvers; add them or deploy without --break-glass"}
	}
	st := &e.status.Steps[i]
	prior := st.Gate
	st.Gate = &GateStatus{
		Name: BreakGlassGate, State: StatePending, Approvers: bg.Approvers, MinApprovals: max(1, bg.MinApprovals),
		Instructions: fmt.Sprintf("BREAK-GLASS release requested by %s: %s. Approving lets %s pass: %s.",
			e.requester(), e.in.BreakGlass.Reason, e.status.Name, blocked),
		RejectNeedsReason: true,
	}
	e.audit(ctx, auditRecord{action: "break-glass.requested", step: st.Name, outcome: StateWaiting, actor: e.requester(),
		detail: e.in.BreakGlass.Reason + " — blocked by " + blocked})
	if f := e.awaitGate(ctx, st, time.Duration(bg.Timeout.Or(defaultBreakGlassTimeout))); f != nil {
		return f
	}
	e.status.BreakGlass = fmt.Sprintf("passed %s, approved by %s: %s", blocked, actors(st.Gate.Approvals), e.in.BreakGlass.Reason)
	e.audit(ctx, auditRecord{action: "break-glass.approved", step: st.Name, outcome: StateApproved,
		actor: actors(st.Gate.Approvals), detail: e.status.BreakGlass})
	e.slackProgress(ctx, "BREAK-GLASS: "+e.status.BreakGlass)
	st.State, st.Detail = StateRunning, ""
	if prior != nil {
		st.Gate = prior
	}
	e.publish(ctx)
	return nil
}

// flags are the warnings shown wherever people look at the environment:
// the Slack gate message, the Web UI details.
func (e *environment) flags() []string {
	var fs []string
	if r := e.in.Rollback; r != nil {
		fs = append(fs, r.Describe(e.in.Version))
	}
	if e.in.BreakGlass != nil {
		fs = append(fs, "BREAK-GLASS: "+strings.TrimSpace(e.in.BreakGlass.Reason))
	}
	if r := e.status.Risk; r != nil && r.Level != runbooks.RiskLow {
		fs = append(fs, "Risk "+strings.ToUpper(r.Level)+": "+strings.Join(r.Reasons, "; "))
	}
	return fs
}
