package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/runbooks"
)

// truthfulRollbackChange versions the rollback that reads every undo back
// from the real system (and the step changes that make it possible:
// compensations registered before a side effect starts, side effects awaited
// on cancel). Releases started before it replay with the old behaviour.
const truthfulRollbackChange = "truthful-rollback"

// undoer is one step kind's way back: each kind registers one when its side
// effect may have happened. The rule every kind follows (compensate) lives
// in one place: undo, then read the real system back, and only a read-back
// that shows the system where the step found it counts as undone.
type undoer interface {
	// describe says what undo will do, for the visible plan.
	describe() string
	// undo reverts the step's effect; it is idempotent, so running it again
	// after a crash is harmless. It reports what it did.
	undo(ctx workflow.Context, e *environment) (undone, error)
	// readBack reads the real system after undo and reports whether it is
	// where it should be now (for kept, in the state deliberately kept).
	readBack(ctx workflow.Context, e *environment, how undone) (observed, error)
	// leftover says what may be left and the command that finishes it,
	// for a rollback that could not show the system undone.
	leftover(e *environment) Leftover
}

// undone is what an undo did.
type undone int

const (
	// reverted: the effect was undone.
	reverted undone = iota
	// kept: the effect was deliberately left in place (an irreversible,
	// additive migration).
	kept
	// nothingToUndo: reading the system showed the step's effect never
	// happened.
	nothingToUndo
)

// state is the compensation state an undo ends in once read back.
func (u undone) state() string {
	switch u {
	case kept:
		return StateKept
	case nothingToUndo:
		return StateNothingToUndo
	}
	return StateDone
}

// observed is what a read-back found.
type observed struct {
	ok    bool
	found string
}

// compensation undoes one step whose side effect may have happened.
// Compensations run in reverse order of registration.
type compensation struct {
	step string
	undo undoer
}

// pushCompensation registers the undo of a step and refreshes the visible
// plan (in the order it would run: newest first).
func (e *environment) pushCompensation(c compensation) {
	e.comps = append(e.comps, c)
	e.refreshPlan()
}

// replaceCompensation swaps the newest compensation of step for c (a step
// that learned more about its effect after registering), or pushes c.
func (e *environment) replaceCompensation(c compensation) {
	if n := len(e.comps); n > 0 && e.comps[n-1].step == c.step {
		e.comps[n-1] = c
		e.refreshPlan()
		return
	}
	e.pushCompensation(c)
}

// dropCompensation removes the newest compensation of step: the step's
// side effect is known not to have happened.
func (e *environment) dropCompensation(step string) {
	if n := len(e.comps); n > 0 && e.comps[n-1].step == step {
		e.comps = e.comps[:n-1]
		e.refreshPlan()
	}
}

func (e *environment) refreshPlan() {
	plan := make([]CompensationStatus, 0, len(e.comps))
	for i := len(e.comps) - 1; i >= 0; i-- {
		plan = append(plan, CompensationStatus{Step: e.comps[i].step, Action: e.comps[i].undo.describe(), State: StatePending})
	}
	e.status.Compensations = plan
}

// rollback runs the compensation stack after a failure, rejection, timeout
// or abort. It uses a disconnected context: a cancelled release must still
// undo what it did. Traffic goes back first, before anything else is
// written, so users are on the old version within seconds whatever else
// (the audit store, a slow destroy) is slow.
func (e *environment) rollback(ctx workflow.Context, f *failure) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	started := workflow.Now(ctx)
	e.awaitHandlers(ctx)
	e.status.State, e.status.Reason = StateRollingBack, f.message
	e.status.CurrentStep = ""
	order := e.compensationOrder()
	if e.truthful && len(order) > 0 && e.isTraffic(order[0]) {
		e.upsertAttrs(ctx)
		e.publish(ctx)
		e.compensate(ctx, order[0])
		order = order[1:]
	}
	e.upsertAttrs(ctx)
	e.audit(ctx, auditRecord{action: "rollback.started", outcome: StateRollingBack, detail: f.message})
	e.publish(ctx)
	for _, i := range order {
		e.compensate(ctx, i)
	}
	e.finishRollback(ctx, f)
	e.recordRollback(ctx, started)
}

// compensationOrder lists the plan's indexes in the order they run: the
// traffic compensations first (they restore what users see), then the rest
// newest first. The legacy order is newest first only.
func (e *environment) compensationOrder() []int {
	var first, rest []int
	for i := range e.status.Compensations {
		if e.truthful && e.isTraffic(i) {
			first = append(first, i)
		} else {
			rest = append(rest, i)
		}
	}
	return append(first, rest...)
}

// comp returns the compensation shown at index i of the plan.
func (e *environment) comp(i int) compensation { return e.comps[len(e.comps)-1-i] }

func (e *environment) isTraffic(i int) bool {
	_, ok := e.comp(i).undo.(*trafficUndo)
	return ok
}

// finishRollback ends the environment: rolled-back only when every
// compensation was read back as undone (or kept, or not needed).
func (e *environment) finishRollback(ctx workflow.Context, f *failure) {
	var failed []string
	for _, cs := range e.status.Compensations {
		if cs.State == StateFailed {
			failed = append(failed, cs.Step)
		}
	}
	switch {
	case len(failed) == 0:
		e.finish(ctx, StateRolledBack, f.message)
	case !e.truthful:
		e.finish(ctx, StateFailed, fmt.Sprintf("%s; rollback incomplete: compensation of %v failed, fix by hand", f.message, failed))
	default:
		e.finish(ctx, StateRollbackIncomplete, fmt.Sprintf("%s; rollback incomplete: %s left (see leftovers in runbook status %s)",
			f.message, strings.Join(failed, ", "), e.in.ReleaseID))
	}
}

// compensate runs compensation i of the plan and records its outcome: with
// the truthful rollback, only a read-back that agrees counts as done.
func (e *environment) compensate(ctx workflow.Context, i int) {
	c := e.comp(i)
	cs := &e.status.Compensations[i]
	cs.State = StateCompensating
	e.publish(ctx)
	how, err := c.undo.undo(ctx, e)
	var ck observed
	if err == nil && e.truthful {
		ck, err = c.undo.readBack(ctx, e, how)
		cs.ReadBack = ck.found
		if err == nil && !ck.ok {
			err = fmt.Errorf("read back: %s", ck.found)
		}
	}
	if err != nil {
		cs.State, cs.Error = StateFailed, rootMessage(err)
		if e.truthful {
			l := c.undo.leftover(e)
			l.Step = c.step
			e.status.Leftovers = append(e.status.Leftovers, l)
		}
	} else {
		cs.State = how.state()
		if how == reverted {
			e.markCompensated(c.step)
		}
	}
	detail := cs.Error
	switch {
	case cs.State == StateKept:
		detail = c.undo.describe()
	case cs.ReadBack != "" && err == nil:
		detail = "read back: " + cs.ReadBack
	}
	e.audit(ctx, auditRecord{action: "compensation.ran", step: c.step, outcome: cs.State, detail: detail})
	e.publish(ctx)
}

// hookUndo is a step's on-rollback HTTP call. Its read-back is the hook's
// own answer: the status the runbook expects.
type hookUndo struct {
	step   string
	hook   *runbooks.HTTPHook
	answer *httpcheck.HTTPCheckResult
}

func (u *hookUndo) describe() string {
	return fmt.Sprintf("%s %s", methodOr(u.hook.Method, "POST"), u.hook.URL)
}

// undo makes the call; the answer is kept for the read-back.
func (u *hookUndo) undo(ctx workflow.Context, e *environment) (undone, error) {
	in := httpcheck.HTTPCheckInput{
		URL:            runbooks.Expand(u.hook.URL, e.vars()),
		Method:         methodOr(u.hook.Method, "POST"),
		Headers:        u.hook.Headers,
		Body:           runbooks.Expand(u.hook.Body, e.vars()),
		ExpectStatus:   u.hook.ExpectStatus,
		Timeout:        defaultHTTPTimeout,
		IdempotencyKey: e.idempotencyKey(u.step) + "/rollback",
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    in.Timeout + 5*time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, MaximumInterval: 15 * time.Second,
			NonRetryableErrorTypes: []string{httpcheck.ErrTypeInvalid},
		},
		Summary: "rollback " + u.step + ": " + u.describe(),
	})
	var res httpcheck.HTTPCheckResult
	if err := workflow.ExecuteActivity(actx, httpActs.HTTPCheck, in).Get(actx, &res); err != nil {
		return reverted, err
	}
	u.answer = &res
	return reverted, nil
}

// readBack is the hook's answer: the activity fails unless the status is
// the expected one, so an answer here is an acknowledged undo.
func (u *hookUndo) readBack(workflow.Context, *environment, undone) (observed, error) {
	if u.answer == nil {
		return observed{found: "the hook did not answer"}, nil
	}
	return observed{ok: true, found: fmt.Sprintf("hook answered %d", u.answer.Status)}, nil
}

func (u *hookUndo) leftover(e *environment) Leftover {
	fix := fmt.Sprintf("curl -X %s %s -H 'Idempotency-Key: %s/rollback'",
		methodOr(u.hook.Method, "POST"), runbooks.Expand(u.hook.URL, e.vars()), e.idempotencyKey(u.step))
	if body := runbooks.Expand(u.hook.Body, e.vars()); body != "" {
		fix += " -d '" + strings.ReplaceAll(body, "'", `'\''`) + "'"
	}
	if len(u.hook.Headers) > 0 {
		fix += " (plus the hook's headers from the runbook)"
	}
	return Leftover{
		What: fmt.Sprintf("the on-rollback hook %s did not answer as expected, so its undo is unconfirmed", u.describe()),
		Fix:  fix,
	}
}

func (e *environment) markCompensated(step string) {
	for i := range e.status.Steps {
		if e.status.Steps[i].Name == step {
			e.status.Steps[i].State = StateCompensated
		}
	}
}

// runbookRef is the runbook's path for commands shown to people.
func (e *environment) runbookRef() string {
	if e.in.RunbookFile != "" {
		return e.in.RunbookFile
	}
	return "<runbook.yaml>"
}
