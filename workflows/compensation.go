package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/runbooks"
)

// compensation undoes one completed step. Compensations run in reverse order
// of registration and each one is idempotent (it carries a stable
// idempotency key), so running it again after a crash is harmless.
type compensation struct {
	step string
	// Exactly one of hook, infra, schema and traffic is set.
	hook    *runbooks.HTTPHook
	infra   *infraUndo
	schema  *schemaUndo
	traffic *trafficUndo
}

// describe says what the compensation will do, for the visible plan.
func (c compensation) describe() string {
	switch {
	case c.infra != nil:
		return c.infra.describe()
	case c.schema != nil:
		return c.schema.describe()
	case c.traffic != nil:
		return c.traffic.describe()
	}
	return fmt.Sprintf("%s %s", methodOr(c.hook.Method, "POST"), c.hook.URL)
}

// pushCompensation registers the undo of a step that just completed and
// refreshes the visible plan (in the order it would run: newest first).
func (e *environment) pushCompensation(c compensation) {
	e.comps = append(e.comps, c)
	plan := make([]CompensationStatus, 0, len(e.comps))
	for i := len(e.comps) - 1; i >= 0; i-- {
		plan = append(plan, CompensationStatus{Step: e.comps[i].step, Action: e.comps[i].describe(), State: StatePending})
	}
	e.status.Compensations = plan
}

// rollback runs the compensation stack after a failure, rejection, timeout
// or abort. It uses a disconnected context: a cancelled release must still
// undo what it did.
func (e *environment) rollback(ctx workflow.Context, f *failure) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	e.awaitHandlers(ctx)
	e.status.State, e.status.Reason = StateRollingBack, f.message
	e.status.CurrentStep = ""
	e.upsertAttrs(ctx)
	e.audit(ctx, auditRecord{action: "rollback.started", outcome: StateRollingBack, detail: f.message})
	e.publish(ctx)

	var failed []string
	for i := range e.status.Compensations {
		c := e.comps[len(e.comps)-1-i]
		if err := e.compensate(ctx, i, c); err != nil {
			failed = append(failed, c.step)
		}
	}
	if len(failed) > 0 {
		e.finish(ctx, StateFailed, fmt.Sprintf("%s; rollback incomplete: compensation of %v failed, fix by hand", f.message, failed))
		return
	}
	e.finish(ctx, StateRolledBack, f.message)
}

// compensate runs one compensation and records its outcome.
func (e *environment) compensate(ctx workflow.Context, i int, c compensation) error {
	cs := &e.status.Compensations[i]
	cs.State = StateCompensating
	e.publish(ctx)
	var err error
	changed := true
	switch {
	case c.infra != nil:
		err = e.undoInfra(ctx, c.infra)
	case c.schema != nil:
		changed, err = e.undoSchema(ctx, c.schema)
	case c.traffic != nil:
		err = e.undoTraffic(ctx, c.traffic)
	default:
		err = e.callHook(ctx, c)
	}
	switch {
	case err != nil:
		cs.State, cs.Error = StateFailed, rootMessage(err)
	case !changed:
		cs.State = StateKept
	default:
		cs.State = StateDone
		e.markCompensated(c.step)
	}
	detail := cs.Error
	if cs.State == StateKept {
		detail = c.describe()
	}
	e.audit(ctx, auditRecord{action: "compensation.ran", step: c.step, outcome: cs.State, detail: detail})
	e.publish(ctx)
	return err
}

// callHook makes a step's on-rollback HTTP call.
func (e *environment) callHook(ctx workflow.Context, c compensation) error {
	in := httpcheck.HTTPCheckInput{
		URL:            runbooks.Expand(c.hook.URL, e.vars()),
		Method:         methodOr(c.hook.Method, "POST"),
		Headers:        c.hook.Headers,
		Body:           runbooks.Expand(c.hook.Body, e.vars()),
		ExpectStatus:   c.hook.ExpectStatus,
		Timeout:        defaultHTTPTimeout,
		IdempotencyKey: e.idempotencyKey(c.step) + "/rollback",
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    in.Timeout + 5*time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, MaximumInterval: 15 * time.Second,
			NonRetryableErrorTypes: []string{"HTTPCheckInvalid"},
		},
		Summary: "rollback " + c.step + ": " + c.describe(),
	})
	return workflow.ExecuteActivity(actx, httpActs.HTTPCheck, in).Get(actx, nil)
}

func (e *environment) markCompensated(step string) {
	for i := range e.status.Steps {
		if e.status.Steps[i].Name == step {
			e.status.Steps[i].State = StateCompensated
		}
	}
}
