package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/runbooks"
)

// stepKind is one kind of step. The table (stepKinds) makes a fresh value
// for every step of that kind in the plan; the value holds the kind's own
// state for the life of the step (the traffic step's pending promote, the
// migrate step's blocked migration), so the environment keeps only what
// every kind shares.
//
// A kind's run does the step's work and, before any side effect, registers
// the undoer that takes it back (pushCompensation); it reports what it did
// in e.status.Steps[i].Detail, which the CLI, the Web UI and Slack show.
type stepKind interface {
	run(ctx workflow.Context, e *environment, i int) error
}

// previewer is a step kind that can tell, before its step runs and without
// changing anything, what the step will change: the risk assessment weighs
// it (assess) and the Slack gate messages show it (gatePreview, for the
// first step of the kind after the gate).
type previewer interface {
	assess(ctx workflow.Context, e *environment, s runbooks.Step, preview *changePreview) []riskFact
	gatePreview(ctx workflow.Context, e *environment, s runbooks.Step, preview *changePreview)
}

// kindRow is one row of the step-kind table.
type kindRow struct {
	// changes marks kinds that change something: they wait for the release
	// window and freezes first, and their on-rollback hook is registered.
	changes bool
	// make returns a fresh value for one step.
	make func() stepKind
}

// stepKinds is the one table of step kinds, keyed by the kind a step shows
// in its status: the runbook's kind, or the name of a built-in step.
// Approval gates are not in it: they are the interpreter's own (runGate).
var stepKinds = map[string]kindRow{
	BuiltinWindow:          {make: func() stepKind { return &windowKind{} }},
	BuiltinArtifact:        {make: func() stepKind { return &artifactKind{} }},
	BuiltinSlots:           {make: func() stepKind { return &slotKind{} }},
	BuiltinRisk:            {make: func() stepKind { return &riskKind{} }},
	runbooks.KindHTTPCheck: {changes: true, make: func() stepKind { return &httpCheckKind{} }},
	runbooks.KindJourney:   {changes: true, make: func() stepKind { return &journeyKind{} }},
	runbooks.KindProvision: {changes: true, make: func() stepKind { return &provisionKind{} }},
	runbooks.KindMigrate:   {changes: true, make: func() stepKind { return &migrateKind{} }},
	runbooks.KindCanary:    {changes: true, make: newTrafficKind},
	runbooks.KindLinear:    {changes: true, make: newTrafficKind},
	runbooks.KindBlueGreen: {changes: true, make: newTrafficKind},
	runbooks.KindAllAtOnce: {changes: true, make: newTrafficKind},
	runbooks.KindFlag:      {changes: true, make: func() stepKind { return &flagKind{} }},
}

// kindOf fills in the step's kind value from the table; a kind the table
// lacks is left nil and refused when the step runs.
func (p *plannedStep) kindOf() {
	name := p.step.Kind()
	if p.builtin != "" {
		name = p.builtin
	}
	if row, ok := stepKinds[name]; ok {
		p.kind, p.changes = row.make(), row.changes
	}
}

// unsupported is the failure of a step whose kind this worker lacks. The
// validator refuses unknown kinds; reaching this means a runbook from a
// newer client reached an older worker.
func unsupported(s runbooks.Step) *failure {
	return &failure{cause: ErrTypeInvalid, message: fmt.Sprintf(
		"step %s: kind %q is not supported by this worker; upgrade the worker", s.Name, s.Kind())}
}

// runningKind is the kind value of the step running now, nil between
// steps: the Update handlers that act on a step (promote, resolve-migration)
// reach its state through it.
func (e *environment) runningKind() stepKind {
	for _, p := range e.plan {
		if p.step.Name == e.status.CurrentStep {
			return p.kind
		}
	}
	return nil
}
