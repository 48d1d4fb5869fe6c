package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/internal/identity"
)

// registerHandlers installs the status query and the decision Updates. Every
// Update has a validator, so an invalid call is refused to the caller and
// leaves no trace in history.
func (e *environment) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (EnvironmentStatus, error) {
		return e.status, nil
	}); err != nil {
		return err
	}
	updates := []struct {
		name     string
		handler  any
		validate any
	}{
		{UpdateApprove, e.approve, func(ctx workflow.Context, in DecisionInput) error { return e.validateDecision(ctx, in, true) }},
		{UpdateReject, e.reject, func(ctx workflow.Context, in DecisionInput) error { return e.validateDecision(ctx, in, false) }},
		{UpdatePause, e.pause, e.validatePause},
		{UpdateResume, e.resume, e.validateResume},
		{UpdateAbort, e.abortNow, e.validateAbort},
		{UpdatePromote, e.promoteNow, e.validatePromote},
		{UpdateResolveMigration, e.resolveMigration, e.validateMigrationDecision},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	return nil
}

// active reports whether the environment still accepts control Updates.
func (e *environment) active() error {
	if isFinal(e.status.State) {
		return fmt.Errorf("environment %s already finished: %s", e.status.Name, e.status.State)
	}
	if e.abort != nil || e.status.State == StateRollingBack {
		return fmt.Errorf("environment %s is rolling back (aborted by %s)", e.status.Name, abortActor(e.abort))
	}
	return nil
}

func requireActor(in ControlInput) error {
	if strings.TrimSpace(in.Actor) == "" && in.Proof == nil {
		return fmt.Errorf("say who you are: pass --as NAME")
	}
	return nil
}

// controller verifies who sends a control Update (see decider).
func (e *environment) controller(ctx workflow.Context, update string, in ControlInput) (identity.Identity, error) {
	return e.decider(ctx, in.Proof, ControlClaim(e.status.WorkflowID, e.status.RunID, update, in), in.Actor, "", nil)
}

// controlled is who sent a control Update, in its handler (see identify).
func (e *environment) controlled(in ControlInput) identity.Identity {
	return e.identify(in.Proof, in.Actor, nil)
}

// recheckSigned checks a signed control Update or migration decision again
// in its handler (reverifyOnArrival): a key removed since its validator ran
// no longer pauses, resumes, aborts, promotes or decides a migration, and
// the refusal is audited as ACTION.refused. state checks again what the
// validator checked of the environment.
func (e *environment) recheckSigned(ctx workflow.Context, action string, p *identity.Proof, actor string, state func() error) error {
	if !e.rechecks(p) {
		return nil
	}
	return e.reverifyOnArrival(ctx, p, actor, func() (refusal, error) {
		return refusal{what: "since this " + action + " was signed", action: action,
			step: e.status.CurrentStep, outcome: e.status.State}, state()
	})
}

func (e *environment) validatePause(ctx workflow.Context, in ControlInput) error {
	if err := requireActor(in); err != nil {
		return err
	}
	if err := e.pausable(); err != nil {
		return err
	}
	_, err := e.controller(ctx, UpdatePause, in)
	return err
}

// pausable says why the environment cannot be paused now, if it cannot.
func (e *environment) pausable() error {
	if err := e.active(); err != nil {
		return err
	}
	if e.status.Paused {
		return fmt.Errorf("environment %s is already paused by %s", e.status.Name, e.status.PausedBy)
	}
	return nil
}

// pause stops the environment before its next step; a running step finishes.
func (e *environment) pause(ctx workflow.Context, in ControlInput) (ControlResult, error) {
	if err := e.recheckSigned(ctx, UpdatePause, in.Proof, in.Actor, e.pausable); err != nil {
		return ControlResult{}, err
	}
	id := e.controlled(in)
	e.status.Paused, e.status.PausedBy = true, id.Name
	e.audit(ctx, auditRecord{action: "release.paused", actor: id.Name, outcome: StatePaused, detail: in.Reason, identity: auditIdentity(id)})
	e.upsertAttrs(ctx)
	e.publish(ctx)
	return ControlResult{State: StatePaused}, nil
}

func (e *environment) validateResume(ctx workflow.Context, in ControlInput) error {
	if err := requireActor(in); err != nil {
		return err
	}
	if err := e.resumable(); err != nil {
		return err
	}
	_, err := e.controller(ctx, UpdateResume, in)
	return err
}

// resumable says why the environment cannot be resumed now, if it cannot.
func (e *environment) resumable() error {
	if err := e.active(); err != nil {
		return err
	}
	if !e.status.Paused {
		return fmt.Errorf("environment %s is not paused", e.status.Name)
	}
	return nil
}

func (e *environment) resume(ctx workflow.Context, in ControlInput) (ControlResult, error) {
	if err := e.recheckSigned(ctx, UpdateResume, in.Proof, in.Actor, e.resumable); err != nil {
		return ControlResult{}, err
	}
	id := e.controlled(in)
	e.status.Paused, e.status.PausedBy = false, ""
	e.audit(ctx, auditRecord{action: "release.resumed", actor: id.Name, outcome: StateRunning, detail: in.Reason, identity: auditIdentity(id)})
	e.upsertAttrs(ctx)
	e.publish(ctx)
	return ControlResult{State: e.status.State}, nil
}

func (e *environment) validateAbort(ctx workflow.Context, in ControlInput) error {
	if err := requireActor(in); err != nil {
		return err
	}
	if err := e.active(); err != nil {
		return err
	}
	_, err := e.controller(ctx, UpdateAbort, in)
	return err
}

// abortNow interrupts the running step; the main loop then rolls back.
func (e *environment) abortNow(ctx workflow.Context, in ControlInput) (ControlResult, error) {
	if err := e.recheckSigned(ctx, UpdateAbort, in.Proof, in.Actor, e.active); err != nil {
		return ControlResult{}, err
	}
	id := e.controlled(in)
	in.Actor = id.Name
	e.abort = &in
	if e.cancelStep != nil {
		e.cancelStep()
	}
	e.audit(ctx, auditRecord{action: "release.aborted", actor: id.Name, outcome: StateAborted, detail: in.Reason, identity: auditIdentity(id)})
	return ControlResult{State: StateRollingBack}, nil
}

func abortActor(c *ControlInput) string {
	if c == nil {
		return "a failure"
	}
	return c.Actor
}

func (e *environment) validatePromote(ctx workflow.Context, in ControlInput) error {
	if err := requireActor(in); err != nil {
		return err
	}
	if err := e.promotable(); err != nil {
		return err
	}
	_, err := e.controller(ctx, UpdatePromote, in)
	return err
}

// promotable says why the environment cannot be promoted now, if it cannot.
func (e *environment) promotable() error {
	if err := e.active(); err != nil {
		return err
	}
	tr, t := e.status.Traffic, e.shifting()
	if tr == nil || tr.Phase == 0 || t == nil {
		return fmt.Errorf("environment %s is not shifting traffic (step %s); promote applies during a canary, linear, blue-green or all-at-once step",
			e.status.Name, e.status.CurrentStep)
	}
	if t.promote {
		return fmt.Errorf("a promote of %s is already pending", e.status.Name)
	}
	return nil
}

// promoteNow ends the current weight's bake (or accepts an inconclusive
// analysis): the step moves on to its next weight.
func (e *environment) promoteNow(ctx workflow.Context, in ControlInput) (ControlResult, error) {
	if err := e.recheckSigned(ctx, UpdatePromote, in.Proof, in.Actor, e.promotable); err != nil {
		return ControlResult{}, err
	}
	id := e.controlled(in)
	e.shifting().promote = true
	if e.status.Paused {
		e.status.Paused, e.status.PausedBy = false, ""
		e.upsertAttrs(ctx)
	}
	e.audit(ctx, auditRecord{action: "traffic.promoted", actor: id.Name, step: e.status.CurrentStep, outcome: StateRunning,
		detail: in.Reason, identity: auditIdentity(id)})
	return ControlResult{State: e.status.State}, nil
}

// shifting is the traffic step running now, nil when none is.
func (e *environment) shifting() *trafficKind {
	t, _ := e.runningKind().(*trafficKind)
	return t
}
