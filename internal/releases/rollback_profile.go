package releases

import (
	"fmt"
	"slices"
	"time"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// RollbackGate is the one approval gate of a rollback.
const RollbackGate = "rollback"

// RollbackMaxBake is the longest a rollback's traffic step bakes unless the
// environment's rollback-profile says otherwise: the old version ran in
// this environment before, so its analysis confirms, it does not explore.
const RollbackMaxBake = time.Minute

// RollbackRunbook turns the runbook that deployed a version into the
// runbook of its rollback into env, by the rollback profile:
//   - only env, whose gates become one: a single approval from any of their
//     approvers (no four-eyes wait, no risk-based gates), the requester
//     still excluded unless the policy allows self-approval;
//   - approval steps dropped (the gate covers them), migrations never run
//     down nor again (the schema stays: expand/contract keeps the old
//     version compatible with it);
//   - on the traffic path the provision step is dropped too (the version
//     still runs in its slot; the http-checks prove it), on the full path
//     it provisions the version again;
//   - every traffic step becomes all-at-once, baking at most
//     RollbackMaxBake under the same SLOs.
func RollbackRunbook(rb runbooks.Runbook, env, path, from, to, reason string) (runbooks.Runbook, error) {
	i := slices.IndexFunc(rb.Environments, func(e runbooks.Environment) bool { return e.Name == env })
	if i < 0 {
		return rb, fmt.Errorf("the runbook that deployed %s has no environment %q", to, env)
	}
	e := rb.Environments[i]
	maxBake := runbooks.Duration(RollbackMaxBake)
	e.Approvals = rollbackGates(e.Approvals, from, to, reason)
	if p := e.RollbackProfile; p != nil {
		// The runbook's own rollback profile replaces the defaults.
		switch {
		case p.NoGate:
			e.Approvals = nil
		case len(p.Approvals) > 0:
			e.Approvals = slices.Clone(p.Approvals)
		}
		if p.MaxBake > 0 {
			maxBake = p.MaxBake
		}
	}
	var steps []runbooks.Step
	for _, s := range e.Steps {
		switch {
		case s.Approval != nil, s.Migrate != nil:
			continue
		case s.Provision != nil && path == workflows.RollbackTraffic:
			continue
		case isTraffic(s):
			s = allAtOnce(s, maxBake)
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return rb, fmt.Errorf("the rollback of %s has no step left to run in %s", env, to)
	}
	e.Steps = steps
	rb.Environments = []runbooks.Environment{e}
	rb.Policy.Risk = nil
	return rb, nil
}

// rollbackGates merges an environment's gates into the one rollback gate.
func rollbackGates(gates []runbooks.Approval, from, to, reason string) []runbooks.Approval {
	if len(gates) == 0 {
		return nil
	}
	g := runbooks.Approval{Name: RollbackGate, MinApprovals: 1, Timeout: gates[0].Timeout,
		Instructions: fmt.Sprintf("Roll back from %s to %s: %s. Approve to put %s back.", from, to, reason, to)}
	for _, a := range gates {
		for _, who := range a.Approvers {
			if !slices.Contains(g.Approvers, who) {
				g.Approvers = append(g.Approvers, who)
			}
		}
		if a.RejectNeedsReason {
			g.RejectNeedsReason = true
		}
	}
	return []runbooks.Approval{g}
}

func isTraffic(s runbooks.Step) bool {
	return s.Canary != nil || s.Linear != nil || s.BlueGreen != nil || s.AllAtOnce != nil
}

// allAtOnce rewrites a traffic step as one move to 100, baking as long as
// the step's longest weight did, at most maxBake.
func allAtOnce(s runbooks.Step, maxBake runbooks.Duration) runbooks.Step {
	var bake, interval runbooks.Duration
	switch {
	case s.Canary != nil:
		for _, w := range s.Canary.Steps {
			bake = max(bake, w.Bake)
		}
		interval = s.Canary.AnalysisInterval
	case s.Linear != nil:
		bake, interval = s.Linear.Every, s.Linear.AnalysisInterval
	case s.BlueGreen != nil:
		bake, interval = s.BlueGreen.RollbackWindow, s.BlueGreen.AnalysisInterval
	case s.AllAtOnce != nil:
		bake, interval = s.AllAtOnce.Bake, s.AllAtOnce.AnalysisInterval
	}
	bake = min(bake, maxBake)
	return runbooks.Step{Name: s.Name, OnRollback: s.OnRollback, AllAtOnce: &runbooks.AllAtOnceStep{Bake: bake, AnalysisInterval: interval}}
}
