package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/internal/identity"
)

// defaultApprovalTimeout applies when neither the gate nor the policy sets one.
const defaultApprovalTimeout = 24 * time.Hour

// runGate waits until the gate at step i is decided, times out, or the
// environment is aborted.
func (e *environment) runGate(ctx workflow.Context, i int) *failure {
	timeout := e.plan[i].gate.Timeout.Or(e.in.Policy.ApprovalTimeout.Or(defaultApprovalTimeout))
	return e.awaitGate(ctx, &e.status.Steps[i], timeout)
}

// awaitGate opens the gate of step st and waits for its decision. Approval
// steps use it, and so do steps that need a person's approval for what they
// are about to do (a destructive infrastructure plan).
func (e *environment) awaitGate(ctx workflow.Context, st *StepStatus, timeout time.Duration) *failure {
	g := st.Gate
	if e.sig.on && (!e.rootsAtDecision || workflow.Now(ctx).Sub(e.sig.readAt) >= rootsFresh) {
		// Re-read the trust roots so a key removed while the release ran
		// cannot decide this gate (and one added can); on failure the roots
		// from before stay. From lean-release 4 on, a signed decision
		// re-reads them too, as it arrives (recheckDecision).
		if err := e.loadRoots(ctx); err != nil {
			e.log.Warn("trust roots did not reload; the ones loaded before stay", "error", err)
		}
	}
	g.State = StateWaiting
	opened := workflow.Now(ctx)
	defer func() { e.recordGateWait(ctx, opened, g.State) }()
	g.Deadline = opened.Add(timeout)
	st.State = StateWaiting
	st.Detail = fmt.Sprintf("waiting for %d approval(s) until %s", g.MinApprovals, g.Deadline.UTC().Format(time.RFC3339))
	e.upsertAttrs(ctx)
	e.audit(ctx, auditRecord{action: "gate.waiting", step: g.Name, outcome: StateWaiting, detail: g.Instructions})
	e.publish(ctx)
	e.slackGateOpened(ctx, st)

	decided, err := e.awaitDecision(ctx, g, timeout)
	if err == nil && !decided && e.abort == nil && len(g.EscalateTo) > 0 {
		e.escalate(ctx, st, timeout)
		decided, err = e.awaitDecision(ctx, g, timeout)
	}
	if err != nil {
		e.abortFromCancel()
	}
	e.settle(ctx) // the decision's record, before what it lets happen
	defer e.slackGateChanged(ctx, g)
	switch {
	case e.abort != nil:
		g.State, st.State = StateInterrupted, StateInterrupted
		return e.abortFailure()
	case !decided:
		g.State, st.State = StateTimedOut, StateTimedOut
		return &failure{cause: ErrTypeTimedOut, message: fmt.Sprintf(
			"approval gate %s timed out after %s without enough approvals", g.Name, timeout)}
	case g.State == StateRejected:
		st.State = StateRejected
		msg := fmt.Sprintf("rejected by %s at gate %s", g.Rejection.Actor, g.Name)
		if g.Rejection.Comment != "" {
			msg += ": " + g.Rejection.Comment
		}
		return &failure{cause: ErrTypeRejected, message: msg}
	}
	st.Detail = "approved by " + actors(g.Approvals)
	return nil
}

// awaitDecision waits until gate g is decided, the environment is aborted,
// or its deadline passes (decided false). With a Slack message to keep
// current, it also wakes on each approval that does not close the gate yet,
// and once for the reminder.
func (e *environment) awaitDecision(ctx workflow.Context, g *GateStatus, timeout time.Duration) (bool, error) {
	opts := workflow.AwaitOptions{Timeout: timeout,
		TimerOptions: workflow.TimerOptions{Summary: "approval gate " + g.Name + " times out"}}
	if e.glance {
		opts.TimerOptions.Summary = gateTimerSummary(g)
	}
	if g.SlackTS == "" {
		return workflow.AwaitWithOptions(ctx, opts, func() bool { return g.State != StateWaiting || e.abort != nil })
	}
	remindAt := time.Time{}
	if g.RemindAfter > 0 && !g.Escalated {
		remindAt = workflow.Now(ctx).Add(g.RemindAfter)
	}
	for {
		seen := len(g.Approvals)
		until := g.Deadline
		reminding := !remindAt.IsZero() && remindAt.Before(until)
		if reminding {
			until = remindAt
		}
		opts.Timeout = until.Sub(workflow.Now(ctx))
		woke, err := workflow.AwaitWithOptions(ctx, opts, func() bool {
			return g.State != StateWaiting || e.abort != nil || len(g.Approvals) != seen
		})
		switch {
		case err != nil || g.State != StateWaiting || e.abort != nil:
			return woke, err
		case !woke && reminding:
			remindAt = time.Time{}
			e.slackRemind(ctx, g)
		case !woke:
			return false, nil
		default:
			e.slackGateChanged(ctx, g)
		}
	}
}

// escalate opens a timed-out gate to its escalation list for one more
// timeout.
func (e *environment) escalate(ctx workflow.Context, st *StepStatus, timeout time.Duration) {
	g := st.Gate
	g.Approvers, g.Escalated = g.EscalateTo, true
	g.Deadline = workflow.Now(ctx).Add(timeout)
	st.Detail = fmt.Sprintf("escalated to %s: waiting for %d approval(s) until %s",
		strings.Join(g.EscalateTo, ", "), g.MinApprovals, g.Deadline.UTC().Format(time.RFC3339))
	e.audit(ctx, auditRecord{action: "gate.escalated", step: g.Name, outcome: StateWaiting, detail: st.Detail})
	e.publish(ctx)
	e.slackGateChanged(ctx, g)
	e.slackProgress(ctx, fmt.Sprintf("gate %s timed out: %s", g.Name, st.Detail))
}

// findGate resolves the gate a decision is about. An empty name means the one
// gate that is waiting now.
func (e *environment) findGate(name string) (*GateStatus, error) {
	var waiting, all []*GateStatus
	for i := range e.status.Steps {
		if g := e.status.Steps[i].Gate; g != nil {
			all = append(all, g)
			if g.State == StateWaiting {
				waiting = append(waiting, g)
			}
		}
	}
	if name == "" {
		switch len(waiting) {
		case 1:
			return waiting[0], nil
		case 0:
			return nil, fmt.Errorf("no approval gate is waiting in environment %s (state %s)", e.status.Name, e.status.State)
		}
		return nil, fmt.Errorf("several gates are waiting (%s); name one with --gate", gateNames(waiting))
	}
	for _, g := range all {
		if g.Name != name {
			continue
		}
		if g.State == StateWaiting {
			return g, nil
		}
		if g.State == StatePending {
			return nil, fmt.Errorf("gate %s is not waiting yet; it opens when the release reaches it", name)
		}
		return nil, fmt.Errorf("gate %s was already decided: %s", name, g.State)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("environment %s has no approval gates", e.status.Name)
	}
	return nil, fmt.Errorf("no gate named %q in environment %s; gates: %s", name, e.status.Name, gateNames(all))
}

// decidableGate is the gate named (or the one waiting) while the
// environment takes decisions: not aborted, finished or rolling back.
func (e *environment) decidableGate(name string) (*GateStatus, error) {
	if e.abort != nil || isFinal(e.status.State) || e.status.State == StateRollingBack {
		return nil, fmt.Errorf("environment %s is %s; there is nothing to decide", e.status.Name, e.status.State)
	}
	return e.findGate(name)
}

// validateDecision refuses a decision before anything is written to history.
func (e *environment) validateDecision(ctx workflow.Context, in DecisionInput, approving bool) error {
	if strings.TrimSpace(in.Actor) == "" && in.Proof == nil {
		return fmt.Errorf("say who decides: pass --as NAME")
	}
	g, err := e.decidableGate(in.Gate)
	if err != nil {
		return err
	}
	id, err := e.decider(ctx, in.Proof, DecisionClaim(e.status.WorkflowID, e.status.RunID, approving, in), in.Actor, signChannel(in), in.Groups)
	if err != nil {
		return err
	}
	return e.mayDecideGate(g, id, in, approving)
}

// mayDecideGate checks that id may make this decision on gate g now.
func (e *environment) mayDecideGate(g *GateStatus, id identity.Identity, in DecisionInput, approving bool) error {
	// Separation of duties first: it is the rule the requester is breaking,
	// whether or not they are also on the approvers list. With signed
	// decisions both sides are verified identities.
	if approving && id.Name == e.requester() && !e.in.Policy.AllowSelfApproval {
		return fmt.Errorf("%s started this release and may not approve it (separation of duties; set policy.allow-self-approval to change)", id.Name)
	}
	if len(g.Approvers) > 0 && !mayDecide(g.Approvers, id.Name, id.Groups) {
		return fmt.Errorf("%s may not decide gate %s; approvers: %s", id.Name, g.Name, strings.Join(g.Approvers, ", "))
	}
	if !approving {
		if g.RejectNeedsReason && strings.TrimSpace(in.Comment) == "" {
			return fmt.Errorf("gate %s needs a reason to reject: say why with --comment", g.Name)
		}
		return nil
	}
	for _, d := range g.Approvals {
		if d.Actor == id.Name {
			return fmt.Errorf("%s already approved gate %s; it needs %d more approval(s) from someone else",
				id.Name, g.Name, g.MinApprovals-len(g.Approvals))
		}
	}
	return nil
}

// recheckDecision checks a signed gate decision again in its handler
// (reverifyOnArrival) against the gate as it is now: the validator verified
// it against the roots read before the gate opened, and the read lets other
// handlers run. A key, Slack mapping or group membership removed while the
// gate waited no longer decides it; the refusal is audited (gate.refused).
func (e *environment) recheckDecision(ctx workflow.Context, in DecisionInput, approving bool) (*GateStatus, error) {
	if !e.rechecks(in.Proof) {
		return e.findGate(in.Gate)
	}
	var g *GateStatus
	err := e.reverifyOnArrival(ctx, in.Proof, in.Actor, func() (refusal, error) {
		// Other handlers, a timeout or an abort may have run during the read.
		var err error
		if g, err = e.decidableGate(in.Gate); err != nil {
			return refusal{}, err
		}
		return refusal{what: "while gate " + g.Name + " waited", action: "gate", step: g.Name,
			outcome: g.State, channel: decisionChannel(in)}, nil
	})
	if err != nil {
		return nil, err
	}
	return g, e.mayDecideGate(g, e.peekIdentity(in), in, approving)
}

// approve records an approval; the gate opens once enough people approved.
func (e *environment) approve(ctx workflow.Context, in DecisionInput) (DecisionResult, error) {
	g, err := e.recheckDecision(ctx, in, true)
	if err != nil {
		return DecisionResult{}, err
	}
	id := e.identify(in.Proof, in.Actor, in.Groups)
	g.Approvals = append(g.Approvals, Decision{Actor: id.Name, Comment: in.Comment, At: workflow.Now(ctx), Verified: auditIdentity(id)})
	if len(g.Approvals) >= g.MinApprovals {
		g.State = StateApproved
	}
	e.audit(ctx, auditRecord{action: "gate.approved", actor: id.Name, step: g.Name, outcome: g.State, detail: in.Comment,
		channel: decisionChannel(in), identity: auditIdentity(id)})
	if !e.quietApprove || !e.opensGateStep(g) {
		e.publish(ctx)
	}
	return DecisionResult{Gate: g.Name, GateState: g.State, Approvals: len(g.Approvals), Needed: g.MinApprovals}, nil
}

// reject records a rejection; one is enough to fail the gate.
func (e *environment) reject(ctx workflow.Context, in DecisionInput) (DecisionResult, error) {
	g, err := e.recheckDecision(ctx, in, false)
	if err != nil {
		return DecisionResult{}, err
	}
	id := e.identify(in.Proof, in.Actor, in.Groups)
	g.Rejection = &Decision{Actor: id.Name, Comment: in.Comment, At: workflow.Now(ctx), Verified: auditIdentity(id)}
	g.State = StateRejected
	e.audit(ctx, auditRecord{action: "gate.rejected", actor: id.Name, step: g.Name, outcome: g.State, detail: in.Comment,
		channel: decisionChannel(in), identity: auditIdentity(id)})
	e.publish(ctx)
	return DecisionResult{Gate: g.Name, GateState: g.State, Approvals: len(g.Approvals), Needed: g.MinApprovals}, nil
}

func actors(ds []Decision) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Actor
	}
	return strings.Join(names, ", ")
}

func gateNames(gs []*GateStatus) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return strings.Join(names, ", ")
}
