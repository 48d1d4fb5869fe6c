package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/runbooks"
)

// Two of three approvers must approve; the release is watched through the
// Release workflow's status query while the gate waits.
func TestGateNeedsMinApprovals(t *testing.T) {
	h := newHarness(t)
	e := envSpec("production", check("deploy", h.srv.url("/deploy")))
	e.Approvals = []runbooks.Approval{{Name: "change-board", Approvers: []string{"alice", "bob", "carol"},
		MinApprovals: 2, Instructions: "check the change ticket"}}
	var first, second *updateOutcome
	var waiting, afterFirst ReleaseStatus
	h.at(time.Minute, func() {
		waiting = h.releaseStatus()
		first = h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "alice", Comment: "ticket ok"})
	})
	h.at(2*time.Minute, func() {
		afterFirst = h.releaseStatus()
		second = h.updateEnv("production", UpdateApprove, DecisionInput{Gate: "change-board", Actor: "bob"})
	})
	h.runRelease(releaseInput(rb(envSpec("staging", check("deploy", h.srv.url("/staging"))), e)))

	// Status while the gate waits: current environment, step and gate.
	require.Equal(t, StateRunning, waiting.State)
	require.Equal(t, testRequester, waiting.Requester)
	require.Equal(t, "production", waiting.CurrentEnvironment)
	require.Equal(t, StateSucceeded, waiting.Environments[0].State)
	cur, ok := waiting.Current()
	require.True(t, ok)
	require.Equal(t, "change-board", cur.CurrentStep)
	require.Equal(t, StateRunning, cur.State)
	gates := cur.PendingGates()
	require.Len(t, gates, 1)
	require.Equal(t, "change-board", gates[0].Name)
	require.Equal(t, []string{"alice", "bob", "carol"}, gates[0].Approvers)
	require.Equal(t, 2, gates[0].MinApprovals)
	require.Equal(t, "check the change ticket", gates[0].Instructions)
	require.False(t, gates[0].Deadline.IsZero())
	require.Contains(t, waiting.Summary(), "waiting for approval at gate change-board")
	require.Equal(t, []string{"GET /staging"}, h.srv.requests()[:1])

	requireDecision(t, first, DecisionResult{Gate: "change-board", GateState: StateWaiting, Approvals: 1, Needed: 2})
	cur, _ = afterFirst.Current()
	require.Len(t, cur.PendingGates(), 1, "one approval of two keeps the gate waiting")
	require.Equal(t, "alice", cur.PendingGates()[0].Approvals[0].Actor)
	require.Equal(t, "ticket ok", cur.PendingGates()[0].Approvals[0].Comment)
	requireDecision(t, second, DecisionResult{Gate: "change-board", GateState: StateApproved, Approvals: 2, Needed: 2})

	require.NoError(t, h.env.GetWorkflowError())
	var res ReleaseResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	prod := res.Status.Environments[1]
	gate := step(t, prod, "change-board")
	require.Equal(t, StateApproved, gate.State)
	require.Equal(t, StateApproved, gate.Gate.State)
	require.Equal(t, "approved by alice, bob", gate.Detail)
	require.Len(t, gate.Gate.Approvals, 2)
	require.Equal(t, StateSucceeded, step(t, prod, "deploy").State)
	require.Equal(t, []string{"GET /staging", "GET /deploy"}, h.srv.requests())

	var approvals []string
	for _, en := range h.auditEntries() {
		if en.Action == "gate.approved" {
			approvals = append(approvals, en.Actor+":"+en.Outcome)
			require.Equal(t, "production", en.Environment)
			require.Equal(t, testReleaseID, en.Release)
		}
	}
	require.Equal(t, []string{"alice:waiting", "bob:approved"}, approvals)
	h.verifyAudit()
}

// Every invalid Update is refused by its validator and leaves the release
// as it was; the valid ones in between still work.
func TestInvalidUpdatesAreRefused(t *testing.T) {
	h := newHarness(t)
	e := envSpec("production",
		check("smoke", h.srv.url("/smoke")),
		gateStep("cab", 1, "carol"),
		check("deploy", h.srv.url("/deploy")))
	e.Approvals = []runbooks.Approval{{Name: "qa", Approvers: []string{"alice", "bob", testRequester}, MinApprovals: 2}}

	type sent struct {
		name string
		o    *updateOutcome
		want string // "" means accepted
	}
	var all []sent
	send := func(at time.Duration, name string, arg any, want string) {
		h.at(at, func() { all = append(all, sent{name, h.update(name, arg), want}) })
	}
	var paused EnvironmentStatus
	var requestsWhilePaused []string
	m := time.Minute
	send(1*m, UpdateApprove, DecisionInput{Gate: "nope", Actor: "alice"}, `no gate named "nope" in environment production; gates: qa, cab`)
	send(2*m, UpdateApprove, DecisionInput{Gate: "cab", Actor: "carol"}, "gate cab is not waiting yet")
	send(3*m, UpdateApprove, DecisionInput{Actor: "mallory"}, "mallory may not decide gate qa; approvers: alice, bob, dave")
	send(4*m, UpdateReject, DecisionInput{Actor: "mallory"}, "mallory may not decide gate qa")
	send(5*m, UpdateApprove, DecisionInput{Actor: testRequester}, "dave started this release and may not approve it")
	send(6*m, UpdateApprove, DecisionInput{Actor: ""}, "say who decides")
	send(7*m, UpdateApprove, DecisionInput{Actor: "  "}, "say who decides")
	send(8*m, UpdateResume, ControlInput{Actor: "erin"}, "is not paused")
	send(9*m, UpdatePause, ControlInput{Actor: ""}, "say who you are")
	send(10*m, UpdatePause, ControlInput{Actor: "erin", Reason: "lunch"}, "")
	send(11*m, UpdatePause, ControlInput{Actor: "frank"}, "already paused by erin")
	send(12*m, UpdateApprove, DecisionInput{Actor: "alice"}, "")
	send(13*m, UpdateApprove, DecisionInput{Actor: "alice"}, "alice already approved gate qa; it needs 1 more approval(s)")
	send(14*m, UpdateApprove, DecisionInput{Actor: "bob"}, "")
	send(15*m, UpdateReject, DecisionInput{Actor: "carol"}, "no approval gate is waiting in environment production")
	send(16*m, UpdateApprove, DecisionInput{Gate: "qa", Actor: "alice"}, "gate qa was already decided: approved")
	h.at(17*m, func() {
		paused = h.envStatus()
		requestsWhilePaused = h.srv.requests()
	})
	send(18*m, UpdateResume, ControlInput{Actor: ""}, "say who you are")
	send(19*m, UpdateResume, ControlInput{Actor: "frank"}, "")
	send(20*m, UpdateAbort, ControlInput{Actor: " "}, "say who you are")
	send(21*m, UpdateApprove, DecisionInput{Actor: "carol"}, "")
	h.runEnvironment(envInput(e))

	require.Len(t, all, 20)
	for _, s := range all {
		if s.want == "" {
			require.True(t, s.o.accepted && s.o.completed, "%s should be accepted: %+v", s.name, s.o)
			require.NoError(t, s.o.err)
			continue
		}
		requireRejected(t, s.o, s.want)
	}

	// Paused after the qa gate opened: the next step waits for resume.
	require.True(t, paused.Paused)
	require.Equal(t, "erin", paused.PausedBy)
	require.Equal(t, StateApproved, step(t, paused, "qa").State)
	require.Equal(t, StatePending, step(t, paused, "smoke").State)
	require.Empty(t, requestsWhilePaused)

	// The refused Updates left no trace: the release succeeded with the
	// valid decisions only.
	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	qa := step(t, res.Status, "qa")
	require.Equal(t, "approved by alice, bob", qa.Detail)
	require.Len(t, qa.Gate.Approvals, 2)
	require.Nil(t, qa.Gate.Rejection)
	require.Equal(t, "approved by carol", step(t, res.Status, "cab").Detail)
	require.Equal(t, []string{"GET /smoke", "GET /deploy"}, h.srv.requests())
	var decisions []string
	for _, en := range h.auditEntries() {
		if en.Actor != "runbook" {
			decisions = append(decisions, en.Action+" "+en.Actor)
		}
	}
	require.Equal(t, []string{
		"release.paused erin", "gate.approved alice", "gate.approved bob", "release.resumed frank", "gate.approved carol",
	}, decisions)
	h.verifyAudit()
}

func TestSelfApprovalAllowedByPolicy(t *testing.T) {
	h := newHarness(t)
	var approve *updateOutcome
	h.at(time.Minute, func() { approve = h.update(UpdateApprove, DecisionInput{Actor: testRequester}) })
	in := envInput(envSpec("production", gateStep("sign-off", 1), check("deploy", h.srv.url("/deploy"))))
	in.Policy.AllowSelfApproval = true
	h.runEnvironment(in)

	requireDecision(t, approve, DecisionResult{Gate: "sign-off", GateState: StateApproved, Approvals: 1, Needed: 1})
	require.NoError(t, h.env.GetWorkflowError())
	require.Equal(t, []string{"GET /deploy"}, h.srv.requests())
}

// Without an approvers list anyone may approve, except the requester.
func TestGateWithoutApproversRefusesOnlyRequester(t *testing.T) {
	h := newHarness(t)
	var self, other *updateOutcome
	h.at(time.Minute, func() { self = h.update(UpdateApprove, DecisionInput{Actor: testRequester}) })
	h.at(2*time.Minute, func() { other = h.update(UpdateApprove, DecisionInput{Actor: "zoe"}) })
	h.runEnvironment(envInput(envSpec("production", gateStep("sign-off", 0), check("deploy", h.srv.url("/deploy")))))

	requireRejected(t, self, "separation of duties")
	requireDecision(t, other, DecisionResult{Gate: "sign-off", GateState: StateApproved, Approvals: 1, Needed: 1})
	require.NoError(t, h.env.GetWorkflowError())
}

// With two gates waiting? Impossible: gates run one at a time. An Update
// naming a gate of the environment that already opened is refused.
func TestPauseHoldsNextStepUntilResume(t *testing.T) {
	h := newHarness(t)
	var pause, approve, resume *updateOutcome
	var held EnvironmentStatus
	var callsWhilePaused []string
	h.at(time.Minute, func() { pause = h.update(UpdatePause, ControlInput{Actor: "erin", Reason: "incident"}) })
	h.at(2*time.Minute, func() {
		approve = h.update(UpdateApprove, DecisionInput{Actor: "carol"})
	})
	h.at(3*time.Hour, func() {
		held = h.envStatus()
		callsWhilePaused = h.calls()
		resume = h.update(UpdateResume, ControlInput{Actor: "erin"})
	})
	start := h.env.Now()
	h.runEnvironment(envInput(envSpec("production",
		gateStep("sign-off", 1, "carol"),
		check("deploy", h.srv.url("/deploy")),
		check("smoke", h.srv.url("/smoke")))))

	requireControl(t, pause, StatePaused)
	requireDecision(t, approve, DecisionResult{Gate: "sign-off", GateState: StateApproved, Approvals: 1, Needed: 1})
	requireControl(t, resume, StateRunning)

	require.True(t, held.Paused)
	require.Equal(t, "erin", held.PausedBy)
	require.Equal(t, StateRunning, held.State)
	require.Equal(t, StateApproved, step(t, held, "sign-off").State)
	require.Equal(t, StatePending, step(t, held, "deploy").State, "no step starts while paused")
	require.Empty(t, callsWhilePaused, "no activity ran while paused")

	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateSucceeded, res.Status.State)
	require.False(t, res.Status.Paused)
	require.True(t, step(t, res.Status, "deploy").StartedAt.Sub(start) >= 3*time.Hour, "deploy started only after resume")
	require.Equal(t, []string{"GET /deploy", "GET /smoke"}, h.srv.requests())
	actions := h.auditActions()
	require.Less(t, indexOf(actions, "release.paused paused"), indexOf(actions, "release.resumed running"))
	require.Less(t, indexOf(actions, "release.resumed running"), indexOf(actions, "step.succeeded deploy succeeded"))
}

// Pausing an environment of a release shows in the release's status.
func TestReleaseStatusShowsPause(t *testing.T) {
	h := newHarness(t)
	statusAttr := recordStatusAttr(h)
	var rel ReleaseStatus
	h.at(time.Minute, func() { h.updateEnv("production", UpdatePause, ControlInput{Actor: "erin"}) })
	h.at(2*time.Minute, func() { rel = h.releaseStatus() })
	h.at(3*time.Minute, func() { h.updateEnv("production", UpdateResume, ControlInput{Actor: "erin"}) })
	h.at(4*time.Minute, func() { h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "carol"}) })
	h.runRelease(releaseInput(rb(envSpec("production", gateStep("sign-off", 1, "carol"), check("deploy", h.srv.url("/deploy"))))))

	require.NoError(t, h.env.GetWorkflowError())
	cur, ok := rel.Current()
	require.True(t, ok)
	require.True(t, cur.Paused)
	require.Equal(t, "erin", cur.PausedBy)
	require.Contains(t, statusAttr(), StatePaused)
}

// Separation of duties is checked before the approvers list: the requester
// hears the rule they are breaking. Rejecting is not approving.
func TestRequesterOutsideApproversHearsSeparationOfDuties(t *testing.T) {
	h := newHarness(t)
	var approve, reject, ok *updateOutcome
	h.at(time.Minute, func() {
		approve = h.update(UpdateApprove, DecisionInput{Actor: testRequester})
		reject = h.update(UpdateReject, DecisionInput{Actor: testRequester})
		ok = h.update(UpdateApprove, DecisionInput{Actor: "alice"})
	})
	h.runEnvironment(envInput(envSpec("production", gateStep("sign-off", 1, "alice"), check("deploy", h.srv.url("/deploy")))))

	requireRejected(t, approve, "dave started this release and may not approve it (separation of duties")
	requireRejected(t, reject, "dave may not decide gate sign-off; approvers: alice")
	requireDecision(t, ok, DecisionResult{Gate: "sign-off", GateState: StateApproved, Approvals: 1, Needed: 1})
	require.NoError(t, h.env.GetWorkflowError())
}

// TestRejectNeedsReason: a gate that wants a reason refuses a bare
// rejection (nothing recorded) and takes one that says why.
func TestRejectNeedsReason(t *testing.T) {
	h := newHarness(t)
	gate := gateStep("go-live", 1, "bob")
	gate.Approval.RejectNeedsReason = true
	var bare, reasoned *updateOutcome
	h.at(time.Minute, func() { bare = h.update(UpdateReject, DecisionInput{Actor: "bob", Comment: "  "}) })
	h.at(2*time.Minute, func() { reasoned = h.update(UpdateReject, DecisionInput{Actor: "bob", Comment: "error rate up"}) })
	h.runEnvironment(envInput(envSpec("production", gate, check("deploy", h.srv.url("/deploy")))))
	requireRejected(t, bare, "gate go-live needs a reason to reject")
	require.True(t, reasoned.completed)
	st, _ := h.failedEnv(ErrTypeRejected)
	require.Equal(t, "error rate up", step(t, st, "go-live").Gate.Rejection.Comment)
}

// TestGroupApprovers: an approver entry group:NAME admits whoever the
// channel verified as a member of NAME, and nobody else.
func TestGroupApprovers(t *testing.T) {
	h := newHarness(t)
	var outsider, member *updateOutcome
	h.at(time.Minute, func() {
		outsider = h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "erin", Groups: []string{"web"}})
	})
	h.at(2*time.Minute, func() {
		member = h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "frank", Groups: []string{"web", "cab"}, Channel: "slack"})
	})
	h.runEnvironment(envInput(envSpec("production", gateStep("change-board", 1, "alice", GroupPrefix+"cab"), check("deploy", h.srv.url("/deploy")))))
	require.NoError(t, h.env.GetWorkflowError())
	requireRejected(t, outsider, "erin may not decide gate change-board; approvers: alice, group:cab")
	requireDecision(t, member, DecisionResult{Gate: "change-board", GateState: StateApproved, Approvals: 1, Needed: 1})
}

// TestGivenLeanVersion: a release runs through its gate whether its client
// gave no lean-release version (asked), the newest this code knows
// (taken), or a newer one (asked, recording the newest known).
func TestGivenLeanVersion(t *testing.T) {
	for _, given := range []int{0, LeanMax, LeanMax + 1} {
		t.Run(fmt.Sprint(given), func(t *testing.T) {
			h := newHarness(t)
			e := envSpec("production", check("deploy", h.srv.url("/deploy")))
			e.Approvals = []runbooks.Approval{{Name: "go-ahead", Approvers: []string{"alice"}}}
			var decided *updateOutcome
			h.at(time.Minute, func() {
				decided = h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "alice"})
			})
			in := releaseInput(rb(e))
			in.Lean = given
			h.runRelease(in)
			require.NoError(t, h.env.GetWorkflowError())
			requireDecision(t, decided, DecisionResult{Gate: "go-ahead", GateState: StateApproved, Approvals: 1, Needed: 1})
			var res ReleaseResult
			require.NoError(t, h.env.GetWorkflowResult(&res))
			require.Equal(t, StateSucceeded, res.Status.State)
			require.Equal(t, []string{"GET /deploy"}, h.srv.requests())
		})
	}
}
