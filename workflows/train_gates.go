package workflows

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/telemetry"
)

// startSigning loads the worker's trust roots at the start: a train
// decision is verified against them, or, from trainRootsChange on, against
// the roots read again as its gate opened and as it arrived.
func (t *train) startSigning(ctx workflow.Context) {
	t.sig.load(ctx)
}

// registerHandlers serves the status query and the train's Updates.
func (t *train) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (TrainStatus, error) { return t.status, nil }); err != nil {
		return err
	}
	updates := []struct {
		name     string
		handler  any
		validate any
	}{
		{UpdateApprove, t.approve, func(ctx workflow.Context, in DecisionInput) error { return t.validateDecision(ctx, in, true) }},
		{UpdateReject, t.reject, func(ctx workflow.Context, in DecisionInput) error { return t.validateDecision(ctx, in, false) }},
		{UpdateAbort, t.abortNow, t.validateAbort},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validate}); err != nil {
			return err
		}
	}
	return nil
}

// verify is who sends a train decision (decisionSigning.verify).
func (t *train) verify(ctx workflow.Context, p *identity.Proof, c identity.Claim, name string) (identity.Identity, error) {
	return t.sig.verify(ctx, p, c, name, "this train")
}

// identify is who decided, in a handler (decisionSigning.identify).
func (t *train) identify(p *identity.Proof, name string, groups []string) identity.Identity {
	return t.sig.identify(p, name, groups)
}

// waitingGate is the train gate open now, or an error saying what to do.
func (t *train) waitingGate(name string) (*GateStatus, error) {
	for _, te := range t.status.Environments {
		for _, g := range te.Gates {
			if g.State == StateWaiting && (name == "" || g.Name == name) {
				return g, nil
			}
		}
	}
	if name != "" {
		return nil, fmt.Errorf("train gate %s is not waiting (train %s is %s)", name, t.status.TrainID, t.status.State)
	}
	return nil, fmt.Errorf("no train gate is waiting (train %s is %s); a service's own gates are decided on its release: runbook approve RELEASE",
		t.status.TrainID, t.status.State)
}

// validateDecision refuses a decision before anything is written.
func (t *train) validateDecision(ctx workflow.Context, in DecisionInput, approving bool) error {
	g, err := t.waitingGate(in.Gate)
	if err != nil {
		return err
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	in.Gate = g.Name
	id, err := t.verify(ctx, in.Proof, DecisionClaim(info.ID, info.RunID, approving, in), in.Actor)
	if err != nil {
		return err
	}
	if !id.Verified() {
		id.Groups = in.Groups
	}
	return t.mayDecideGate(g, id, in, approving)
}

// mayDecideGate checks that id may make this decision on train gate g now.
func (t *train) mayDecideGate(g *GateStatus, id identity.Identity, in DecisionInput, approving bool) error {
	switch {
	case approving && id.Name == t.in.Requester:
		return fmt.Errorf("%s started this train and may not approve it (separation of duties)", id.Name)
	case len(g.Approvers) > 0 && !mayDecide(g.Approvers, id.Name, id.Groups):
		return fmt.Errorf("%s may not decide train gate %s; approvers: %s", id.Name, g.Name, strings.Join(g.Approvers, ", "))
	case !approving && g.RejectNeedsReason && strings.TrimSpace(in.Comment) == "":
		return fmt.Errorf("train gate %s needs a reason to reject: say why with --comment", g.Name)
	case approving && slices.ContainsFunc(g.Approvals, func(d Decision) bool { return d.Actor == id.Name }):
		return fmt.Errorf("%s already approved train gate %s; it needs %d more approval(s) from someone else",
			id.Name, g.Name, g.MinApprovals-len(g.Approvals))
	}
	return nil
}

// approve records an approval of the waiting train gate.
func (t *train) approve(ctx workflow.Context, in DecisionInput) (DecisionResult, error) {
	return t.decide(ctx, in, true)
}

// reject records a rejection: one ends the train.
func (t *train) reject(ctx workflow.Context, in DecisionInput) (DecisionResult, error) {
	return t.decide(ctx, in, false)
}

func (t *train) decide(ctx workflow.Context, in DecisionInput, approving bool) (DecisionResult, error) {
	g, err := t.recheckDecision(ctx, in, approving)
	if err != nil {
		return DecisionResult{}, err
	}
	id := t.identify(in.Proof, in.Actor, in.Groups)
	d := Decision{Actor: id.Name, Comment: in.Comment, At: workflow.Now(ctx), Verified: auditIdentity(id)}
	action := "train.gate.approved"
	if approving {
		g.Approvals = append(g.Approvals, d)
		if len(g.Approvals) >= g.MinApprovals {
			g.State = StateApproved
		}
	} else {
		g.Rejection, g.State, action = &d, StateRejected, "train.gate.rejected"
	}
	t.auditDecision(ctx, action, id, g, in)
	t.publish(ctx)
	t.slackGateChanged(ctx, t.status.Current, g)
	return DecisionResult{Gate: g.Name, GateState: g.State, Approvals: len(g.Approvals), Needed: g.MinApprovals}, nil
}

// auditDecision records a person's train decision with how they were verified.
func (t *train) auditDecision(ctx workflow.Context, action string, id identity.Identity, g *GateStatus, in DecisionInput) {
	t.auditRecord(ctx, trainDecisionEntry(action, id.Name, g.State, t.status.Current, g.Name, in.Comment, decisionChannel(in), auditIdentity(id)))
}

// validateAbort refuses an abort of a finished train or by nobody.
func (t *train) validateAbort(ctx workflow.Context, in ControlInput) error {
	if t.status.Finished() || t.status.Abort != nil {
		return fmt.Errorf("train %s is %s; there is nothing to abort", t.status.TrainID, t.status.State)
	}
	if strings.TrimSpace(in.Reason) == "" {
		return fmt.Errorf("an abort needs --reason: say why (it goes to the audit log)")
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	_, err := t.verify(ctx, in.Proof, ControlClaim(info.ID, info.RunID, UpdateAbort, in), in.Actor)
	return err
}

// abortNow stops the train: running releases are cancelled (each rolls
// itself back), nothing new starts, and the scope's rollbacks follow.
func (t *train) abortNow(ctx workflow.Context, in ControlInput) (ControlResult, error) {
	id := t.identify(in.Proof, in.Actor, nil)
	t.status.Abort = &Decision{Actor: id.Name, Comment: in.Reason, At: workflow.Now(ctx), Verified: auditIdentity(id)}
	t.auditRecord(ctx, trainDecisionEntry("train.aborted", id.Name, StateAborted, t.status.Current, "", in.Reason, "cli", auditIdentity(id)))
	t.cancelCells()
	t.publish(ctx)
	return ControlResult{State: StateAborted}, nil
}

// runGates opens environment i's train gates one after another.
func (t *train) runGates(ctx workflow.Context, i int) error {
	te := &t.status.Environments[i]
	// Trains from before it waited for the timeout alone: no reminder,
	// no escalation, though the file allowed both.
	followUp := workflow.GetVersion(ctx, changeTrainGateFollowUp, workflow.DefaultVersion, 1) >= 1
	if len(te.Gates) > 0 {
		t.rootsAtGates = workflow.GetVersion(ctx, trainRootsChange, workflow.DefaultVersion, 1) >= 1
	}
	for k, g := range te.Gates {
		timeout := t.gateTimeout(te.Name, g.Name)
		if t.rootsAtGates {
			// A key removed since the train started cannot decide this
			// gate (and one added can); on failure the roots from before
			// stay.
			if _, err := t.sig.reload(ctx); err != nil {
				workflow.GetLogger(ctx).Warn("trust roots did not reload; the ones loaded before stay", "error", err)
			}
		}
		g.State, g.Deadline = StateWaiting, workflow.Now(ctx).Add(timeout)
		t.audit(ctx, "train.gate.waiting", "", StateWaiting, te.Name, g.Name+": "+g.Instructions)
		t.publish(ctx)
		t.slackGateOpened(ctx, te.Name, g)
		opened := workflow.Now(ctx)
		var ok bool
		var err error
		if followUp {
			ok, err = t.awaitGateFollowingUp(ctx, te.Name, g, timeout)
		} else {
			ok, err = workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: timeout,
				TimerOptions: workflow.TimerOptions{Summary: "train gate " + g.Name + " times out"}},
				func() bool { return g.State != StateWaiting })
		}
		switch {
		case err != nil:
			g.State = StateInterrupted
		case !ok:
			g.State = StateTimedOut
		}
		t.settle(ctx)
		t.recordGateWait(ctx, te.Name, opened, g.State)
		switch {
		case err != nil:
			t.slackGateChanged(ctx, te.Name, g)
			return err
		case !ok:
			t.slackGateChanged(ctx, te.Name, g)
			return fmt.Errorf("train gate %s timed out after %s without enough approvals", g.Name, timeout)
		case g.State == StateRejected:
			return fmt.Errorf("rejected by %s at train gate %s: %s", g.Rejection.Actor, g.Name, g.Rejection.Comment)
		}
		te.Gates[k] = g
	}
	return nil
}

// recordGateWait records how long train gate of env waited from opening
// to its decision, as an environment's gates do, under service
// "train:NAME". The SDK's handler records nothing while a history replays.
func (t *train) recordGateWait(ctx workflow.Context, env string, opened time.Time, outcome string) {
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		telemetry.LabelService:     "train:" + t.in.Train,
		telemetry.LabelEnvironment: env,
		telemetry.LabelOutcome:     outcome,
	}).Timer(telemetry.GateWaitSeconds).Record(workflow.Now(ctx).Sub(opened))
}

// recheckDecision re-reads the trust roots as a signed decision arrives
// (trainRootsChange) and checks it again against the gate as it is now, as
// environments do (environment.recheckDecision): a key, Slack mapping or
// group membership removed while the gate waited no longer decides it, and
// the refusal is audited.
func (t *train) recheckDecision(ctx workflow.Context, in DecisionInput, approving bool) (*GateStatus, error) {
	if !t.rootsAtGates || in.Proof == nil {
		return t.waitingGate(in.Gate)
	}
	arrived := workflow.Now(ctx)
	changed, err := t.sig.reload(ctx)
	if err != nil {
		workflow.GetLogger(ctx).Warn("trust roots did not reload for a decision; the ones loaded before stay", "error", err)
	}
	// Other handlers, a timeout or an abort may have run during the read.
	g, err := t.waitingGate(in.Gate)
	if err != nil {
		return nil, err
	}
	id := t.sig.peek(in.Proof, in.Actor, in.Groups)
	if changed {
		if id, err = t.sig.verifier.Reverify(in.Proof, arrived); err != nil {
			err = fmt.Errorf("the trust roots changed while train gate %s waited and no longer trust this decision: %w", g.Name, err)
			who := cmp.Or(in.Proof.Statement.Signer, in.Actor)
			t.auditRecord(ctx, trainDecisionEntry("train.gate.refused", who, g.State, t.status.Current, g.Name, err.Error(), decisionChannel(in), ""))
			return nil, err
		}
	}
	return g, t.mayDecideGate(g, id, in, approving)
}

// trainRootsChange versions the trust roots a train reads again as each
// gate opens and as each signed decision arrives; trains from before it
// verify every decision against the roots read as they started.
const trainRootsChange = "train-roots-at-gates"

// trainSettleChange versions settle: trains from before it could start an
// environment's releases in the workflow task whose local activity was
// still writing the approval that let them.
const trainSettleChange = "train-settle"

// settle waits for the audit writes in flight (the decision's, written by
// its Update handler) before the train acts on a gate's decision: the
// decision is on record before the releases it lets start.
func (t *train) settle(ctx workflow.Context) {
	if workflow.GetVersion(ctx, trainSettleChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return t.auditWriting == 0 })
}

// changeTrainGateFollowUp versions the train gates' reminder and
// escalation (escalate-to, remind-after), which add timers and activities.
const changeTrainGateFollowUp = "train-gate-follow-up"

// gateTimeout is train gate name's timeout in env.
func (t *train) gateTimeout(env, name string) time.Duration {
	timeout := defaultApprovalTimeout
	for _, tg := range t.in.Gates {
		if tg.Environment == env && tg.Approval.Name == name {
			timeout = tg.Approval.Timeout.Or(defaultApprovalTimeout)
		}
	}
	return timeout
}

// awaitGateFollowingUp waits for train gate g's decision as a release's
// gate does: one Slack reminder after remind-after, and at the timeout,
// with escalate-to, one more timeout for those approvers. It reports
// whether the gate was decided.
func (t *train) awaitGateFollowingUp(ctx workflow.Context, env string, g *GateStatus, timeout time.Duration) (bool, error) {
	decided, err := t.awaitGateReminding(ctx, g)
	if err != nil || decided || len(g.EscalateTo) == 0 {
		return decided, err
	}
	g.Approvers, g.Escalated = g.EscalateTo, true
	g.Deadline = workflow.Now(ctx).Add(timeout)
	detail := fmt.Sprintf("escalated to %s: waiting for %d approval(s) until %s",
		strings.Join(g.EscalateTo, ", "), g.MinApprovals, g.Deadline.UTC().Format(time.RFC3339))
	t.audit(ctx, "train.gate.escalated", "", StateWaiting, env, g.Name+": "+detail)
	t.publish(ctx)
	t.slackGateChanged(ctx, env, g)
	t.slackProgress(ctx, fmt.Sprintf("train gate %s timed out: %s", g.Name, detail))
	return t.awaitGateReminding(ctx, g)
}

// awaitGateReminding waits until g is decided or its deadline passes,
// posting the one reminder into its Slack thread when due (not after an
// escalation: the new approvers got the edited message).
func (t *train) awaitGateReminding(ctx workflow.Context, g *GateStatus) (bool, error) {
	remindAt := time.Time{}
	if g.RemindAfter > 0 && !g.Escalated && g.SlackTS != "" {
		remindAt = workflow.Now(ctx).Add(g.RemindAfter)
	}
	for {
		until, summary := g.Deadline, "train gate "+g.Name+" times out"
		reminding := !remindAt.IsZero() && remindAt.Before(until)
		if reminding {
			until, summary = remindAt, "train gate "+g.Name+": reminder"
		}
		decided, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: until.Sub(workflow.Now(ctx)),
			TimerOptions: workflow.TimerOptions{Summary: summary}}, func() bool { return g.State != StateWaiting })
		if err != nil || decided || !reminding {
			return decided, err
		}
		remindAt = time.Time{}
		t.slackRemind(ctx, g)
	}
}

// slackRemind posts the reminder of train gate g into its thread.
func (t *train) slackRemind(ctx workflow.Context, g *GateStatus) {
	if t.in.Slack == nil || g.SlackTS == "" {
		return
	}
	who := "anyone but the requester"
	if len(g.Approvers) > 0 {
		who = strings.Join(g.Approvers, ", ")
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.ExecuteActivity(slackCtx(ctx, "remind of train gate "+g.Name+" in Slack"), slackActs.PostThread,
		slack.PostThreadInput{Channel: g.SlackChannel, ThreadTS: g.SlackTS, Text: fmt.Sprintf(
			"Reminder: train gate %s is still waiting for %d approval(s) from %s, until %s.",
			g.Name, g.MinApprovals-len(g.Approvals), who, g.Deadline.UTC().Format(time.RFC3339))}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("train gate reminder not posted to Slack", "gate", g.Name, "error", err)
	}
}
