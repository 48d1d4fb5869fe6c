package workflows

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/runbooks"
)

// threeUndoableSteps returns steps one..three, each undone by POST /undo/<n>,
// followed by a fourth step whose URL ends in /fail.
func threeUndoableSteps(h *harness) []runbooks.Step {
	var steps []runbooks.Step
	for n, name := range []string{"one", "two", "three"} {
		steps = append(steps, undo(check(name, h.srv.url("/do/"+name)), h.srv.url(fmt.Sprintf("/undo/%d", n+1))))
	}
	return append(steps, check("four", h.srv.url("/fail")))
}

func TestFailedStepCompensatesInReverse(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	h.runEnvironment(envInput(envSpec("production", threeUndoableSteps(h)...)))

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Contains(t, appErr.Error(), "step four failed: boom")
	require.Equal(t, StateRolledBack, st.State)
	require.Contains(t, st.Reason, "step four failed: boom")
	require.Empty(t, st.CurrentStep)
	require.False(t, st.EndedAt.IsZero())
	require.Equal(t, []string{
		BuiltinArtifact + "=succeeded", "one=compensated", "two=compensated", "three=compensated", "four=failed",
	}, stepStates(st))
	require.Contains(t, step(t, st, "four").Error, "step four failed: boom")

	// The undo hooks ran newest first, as POSTs carrying a per-step key.
	require.Equal(t, []string{
		"GET /do/one", "GET /do/two", "GET /do/three",
		"POST /undo/3", "POST /undo/2", "POST /undo/1",
	}, h.srv.requests())
	keys := map[string]bool{}
	for _, hit := range h.srv.all()[3:] {
		require.NotEmpty(t, hit.IdempotencyKey, "%s has no idempotency key", hit)
		keys[hit.IdempotencyKey] = true
	}
	require.Len(t, keys, 3, "each compensation has its own idempotency key")

	require.Equal(t, []CompensationStatus{
		{Step: "three", Action: "POST " + h.srv.url("/undo/3"), State: StateDone, ReadBack: "hook answered 200"},
		{Step: "two", Action: "POST " + h.srv.url("/undo/2"), State: StateDone, ReadBack: "hook answered 200"},
		{Step: "one", Action: "POST " + h.srv.url("/undo/1"), State: StateDone, ReadBack: "hook answered 200"},
	}, st.Compensations)

	actions := h.auditActions()
	iStart := indexOf(actions, "rollback.started rolling-back")
	require.GreaterOrEqual(t, iStart, 0, "actions: %v", actions)
	require.Equal(t, []string{
		"compensation.ran three done", "compensation.ran two done", "compensation.ran one done",
		"environment.finished rolled-back",
	}, actions[iStart+1:])
	require.Contains(t, actions, "step.failed four failed")
	h.verifyAudit()
}

// Failure reasons are read by people (CLI, Web UI, Slack): they carry the
// activity's message, not the SDK's "(type: X, retryable: false)" suffix.
func TestStepFailureReasonIsReadable(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	h.runEnvironment(envInput(envSpec("production", check("four", h.srv.url("/fail")))))

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, "step four failed: boom", appErr.Message())
	require.Equal(t, "step four failed: boom", st.Reason)
	require.Equal(t, "step four failed: boom", step(t, st, "four").Error)
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestFailedCompensationLeavesRollbackIncomplete(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	h.failPath("/undo/2", "undo endpoint gone")
	h.runEnvironment(envInput(envSpec("production", threeUndoableSteps(h)...)))

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRollbackIncomplete, st.State, "an incomplete rollback is not rolled-back")
	require.Contains(t, appErr.Error(), "rollback incomplete")
	require.Contains(t, st.Reason, "rollback incomplete: two left")
	require.Len(t, st.Leftovers, 1)
	require.Equal(t, "two", st.Leftovers[0].Step)
	require.Contains(t, st.Leftovers[0].Fix, "curl -X POST "+h.srv.url("/undo/2"))
	// The other compensations still ran.
	require.Equal(t, []string{"POST /undo/3", "POST /undo/1"}, h.srv.requests()[3:])
	require.Equal(t, StateDone, st.Compensations[0].State)
	require.Equal(t, StateFailed, st.Compensations[1].State)
	require.Contains(t, st.Compensations[1].Error, "undo endpoint gone")
	require.Equal(t, StateDone, st.Compensations[2].State)
	require.Equal(t, []string{
		BuiltinArtifact + "=succeeded", "one=compensated", "two=succeeded", "three=compensated", "four=failed",
	}, stepStates(st))
	require.Contains(t, h.auditActions(), "compensation.ran two failed")
	require.Equal(t, "environment.finished rollback-incomplete", last(h.auditActions()))
	h.verifyAudit()
}

// A step that keeps answering 500 fails once its deadline passes; the retry
// policy repeats it every interval in between.
func TestHTTPCheckRetriesUntilDeadline(t *testing.T) {
	h := newHarness(t)
	h.srv.answer("/flaky", 500)
	s := check("flaky", h.srv.url("/flaky"))
	s.HTTPCheck.Interval = runbooks.Duration(20 * time.Millisecond)
	s.HTTPCheck.Deadline = runbooks.Duration(300 * time.Millisecond)
	s.HTTPCheck.Timeout = runbooks.Duration(time.Second)
	h.runEnvironment(envInput(envSpec("production", s)))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateFailed, step(t, st, "flaky").State)
	require.Greater(t, len(h.srv.requests()), 1, "the check was retried")
	require.Contains(t, step(t, st, "flaky").Error, "got status 500, want 200")
}

func TestHTTPCheckSucceedsAfterRetries(t *testing.T) {
	h := newHarness(t)
	var attempts atomic.Int32
	h.intercept = func(_ context.Context, in httpcheck.HTTPCheckInput) (httpcheck.HTTPCheckResult, error, bool) {
		if attempts.Add(1) < 3 {
			return httpcheck.HTTPCheckResult{}, fmt.Errorf("503 from %s", in.URL), true
		}
		return httpcheck.HTTPCheckResult{Status: 200, Attempt: 3}, nil, true
	}
	s := check("ready", h.srv.url("/ready"))
	s.HTTPCheck.Interval = runbooks.Duration(10 * time.Millisecond)
	h.runEnvironment(envInput(envSpec("production", s)))

	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateSucceeded, res.Status.State)
	require.EqualValues(t, 3, attempts.Load())
	require.Contains(t, step(t, res.Status, "ready").Detail, "(attempt 3)")
}

func TestAbortWhileGateWaits(t *testing.T) {
	h := newHarness(t)
	e := envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		check("smoke", h.srv.url("/smoke")))
	e.Approvals = []runbooks.Approval{{Name: "change-board", Approvers: []string{"carol"}}}
	var abort *updateOutcome
	var during EnvironmentStatus
	h.at(time.Hour, func() {
		during = h.envStatus()
		abort = h.update(UpdateAbort, ControlInput{Actor: "erin", Reason: "error budget exhausted"})
	})
	h.runEnvironment(envInput(e))

	require.Len(t, during.PendingGates(), 1)
	requireControl(t, abort, StateRollingBack)
	st, appErr := h.failedEnv(ErrTypeAborted)
	require.Equal(t, "aborted by erin: error budget exhausted", appErr.Message())
	require.Equal(t, StateRolledBack, st.State)
	require.Contains(t, st.Reason, "erin")
	gate := step(t, st, "change-board")
	require.Equal(t, StateInterrupted, gate.State)
	require.Equal(t, StateInterrupted, gate.Gate.State)
	require.Empty(t, st.PendingGates())
	require.Equal(t, StateNotReached, step(t, st, "deploy").State)
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Empty(t, h.srv.requests(), "no step after the gate ran")
	require.Empty(t, st.Compensations)

	var abortRec bool
	for _, en := range h.auditEntries() {
		if en.Action == "release.aborted" {
			abortRec = true
			require.Equal(t, "erin", en.Actor)
			require.Equal(t, "error budget exhausted", en.Detail)
		}
	}
	require.True(t, abortRec, "the abort is in the audit log")
	h.verifyAudit()
}

func TestAbortWhileStepRuns(t *testing.T) {
	h := newHarness(t)
	h.blockPath("/slow")
	// The blocked activity keeps the testsuite from skipping time, so this
	// fires after 500ms of wall time, while the slow step runs.
	var abort *updateOutcome
	var during EnvironmentStatus
	h.at(500*time.Millisecond, func() {
		during = h.envStatus()
		abort = h.update(UpdateAbort, ControlInput{Actor: "erin"})
	})
	h.runEnvironment(envInput(envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		check("slow", h.srv.url("/slow")),
		check("smoke", h.srv.url("/smoke")))))

	require.Equal(t, "slow", during.CurrentStep, "the abort arrived while the slow step ran")
	require.Equal(t, StateRunning, step(t, during, "slow").State)
	requireControl(t, abort, StateRollingBack)
	st, appErr := h.failedEnv(ErrTypeAborted)
	require.Equal(t, "aborted by erin", appErr.Message())
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, StateCompensated, step(t, st, "deploy").State)
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Equal(t, []string{"GET /deploy", "POST /undo/deploy"}, h.srv.requests())
	require.Equal(t, []CompensationStatus{{Step: "deploy", Action: "POST " + h.srv.url("/undo/deploy"), State: StateDone,
		ReadBack: "hook answered 200"}}, st.Compensations)
	h.verifyAudit()
}

// A step cut short by an abort did not fail: it was interrupted, like a gate.
func TestAbortedStepIsInterruptedNotFailed(t *testing.T) {
	h := newHarness(t)
	h.blockPath("/slow")
	h.at(500*time.Millisecond, func() { h.update(UpdateAbort, ControlInput{Actor: "erin"}) })
	h.runEnvironment(envInput(envSpec("production", check("slow", h.srv.url("/slow")))))

	st, _ := h.failedEnv(ErrTypeAborted)
	require.Equal(t, StateInterrupted, step(t, st, "slow").State, "steps: %v", stepStates(st))
}

func TestAbortWhilePausedRollsBack(t *testing.T) {
	h := newHarness(t)
	e := envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		gateStep("sign-off", 1, "carol"),
		check("smoke", h.srv.url("/smoke")))
	var pause, approve, abort *updateOutcome
	h.at(time.Minute, func() { pause = h.update(UpdatePause, ControlInput{Actor: "erin"}) })
	h.at(2*time.Minute, func() { approve = h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
	h.at(3*time.Minute, func() { abort = h.update(UpdateAbort, ControlInput{Actor: "erin", Reason: "changed my mind"}) })
	h.runEnvironment(envInput(e))

	requireControl(t, pause, StatePaused)
	requireDecision(t, approve, DecisionResult{Gate: "sign-off", GateState: StateApproved, Approvals: 1, Needed: 1})
	requireControl(t, abort, StateRollingBack)
	st, _ := h.failedEnv(ErrTypeAborted)
	require.Equal(t, StateRolledBack, st.State)
	require.False(t, st.Paused)
	require.Equal(t, StateApproved, step(t, st, "sign-off").State)
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Equal(t, []string{"GET /deploy", "POST /undo/deploy"}, h.srv.requests())
}

func TestApprovalTimesOut(t *testing.T) {
	h := newHarness(t)
	e := envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		runbooks.Step{Name: "sign-off", Approval: &runbooks.ApprovalStep{
			Approvers: []string{"carol"}, Timeout: runbooks.Duration(time.Hour)}},
		check("smoke", h.srv.url("/smoke")))
	start := h.env.Now()
	h.runEnvironment(envInput(e))

	st, appErr := h.failedEnv(ErrTypeTimedOut)
	require.Contains(t, appErr.Message(), "approval gate sign-off timed out after 1h0m0s")
	require.Equal(t, StateRolledBack, st.State)
	gate := step(t, st, "sign-off")
	require.Equal(t, StateTimedOut, gate.State)
	require.Equal(t, StateTimedOut, gate.Gate.State)
	require.WithinDuration(t, start.Add(time.Hour), gate.Gate.Deadline, time.Second)
	require.WithinDuration(t, start.Add(time.Hour), gate.EndedAt, time.Second)
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Equal(t, StateCompensated, step(t, st, "deploy").State)
	require.Equal(t, []string{"GET /deploy", "POST /undo/deploy"}, h.srv.requests())
	h.verifyAudit()
}

// The policy's approval timeout applies when the gate sets none.
func TestApprovalTimeoutFromPolicy(t *testing.T) {
	h := newHarness(t)
	in := envInput(envSpec("production", gateStep("sign-off", 1, "carol")))
	in.Policy.ApprovalTimeout = runbooks.Duration(3 * time.Hour)
	start := h.env.Now()
	h.runEnvironment(in)

	st, _ := h.failedEnv(ErrTypeTimedOut)
	require.WithinDuration(t, start.Add(3*time.Hour), step(t, st, "sign-off").EndedAt, time.Second)
}

func TestRejectionRollsBack(t *testing.T) {
	h := newHarness(t)
	var reject *updateOutcome
	h.at(time.Minute, func() {
		reject = h.update(UpdateReject, DecisionInput{Actor: "carol", Comment: "no rollback plan"})
	})
	h.runEnvironment(envInput(envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		gateStep("sign-off", 2, "carol", "bob"),
		check("smoke", h.srv.url("/smoke")))))

	requireDecision(t, reject, DecisionResult{Gate: "sign-off", GateState: StateRejected, Approvals: 0, Needed: 2})
	st, appErr := h.failedEnv(ErrTypeRejected)
	require.Equal(t, "rejected by carol at gate sign-off: no rollback plan", appErr.Message())
	gate := step(t, st, "sign-off")
	require.Equal(t, StateRejected, gate.State)
	require.Equal(t, "carol", gate.Gate.Rejection.Actor)
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, []string{"GET /deploy", "POST /undo/deploy"}, h.srv.requests())
	require.Contains(t, h.auditActions(), "gate.rejected sign-off rejected")
}

// While the rollback runs, no decision or control Update is accepted.
func TestUpdatesRefusedWhileRollingBack(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	// The compensation takes an hour of workflow time; the Updates arrive
	// half-way through it.
	h.env.OnActivity(httpActs.HTTPCheck, mock.Anything, mock.MatchedBy(func(in httpcheck.HTTPCheckInput) bool {
		return in.URL == h.srv.url("/undo/deploy")
	})).After(time.Hour).Return(httpcheck.HTTPCheckResult{Status: 200}, nil)
	var abort, pause, resume, approve *updateOutcome
	var during EnvironmentStatus
	h.at(30*time.Minute, func() {
		during = h.envStatus()
		abort = h.update(UpdateAbort, ControlInput{Actor: "erin"})
		pause = h.update(UpdatePause, ControlInput{Actor: "erin"})
		resume = h.update(UpdateResume, ControlInput{Actor: "erin"})
		approve = h.update(UpdateApprove, DecisionInput{Actor: "carol"})
	})
	h.runEnvironment(envInput(envSpec("production",
		undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")),
		check("four", h.srv.url("/fail")))))

	require.Equal(t, StateRollingBack, during.State)
	require.Equal(t, StateCompensating, during.Compensations[0].State)
	requireRejected(t, abort, "rolling back")
	requireRejected(t, pause, "rolling back")
	requireRejected(t, resume, "rolling back")
	requireRejected(t, approve, "nothing to decide")
	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	require.NotContains(t, h.auditActions(), "release.aborted aborted")
}

// Control Updates that reach a finished environment are refused (the
// testsuite closes a finished workflow at once, so call the validators).
func TestControlValidatorsRefuseFinishedEnvironment(t *testing.T) {
	for _, state := range []string{StateSucceeded, StateRolledBack, StateFailed} {
		e := &environment{status: EnvironmentStatus{Name: "production", State: state}}
		in := ControlInput{Actor: "erin"}
		for name, validate := range map[string]func() error{
			"abort":  func() error { return e.validateAbort(nil, in) },
			"pause":  func() error { return e.validatePause(nil, in) },
			"resume": func() error { return e.validateResume(nil, in) },
			"approve": func() error {
				return e.validateDecision(nil, DecisionInput{Actor: "carol"}, true)
			},
		} {
			err := validate()
			require.Error(t, err, "%s in state %s", name, state)
			require.Contains(t, err.Error(), state, "%s: %v", name, err)
		}
	}
}

// Steps and their compensations carry stable idempotency keys, and hook
// URLs get the release's variables.
func TestIdempotencyKeysAndHookVariables(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	deploy := check("deploy", h.srv.url("/deploy/${service}"))
	deploy.HTTPCheck.Method = "POST"
	deploy.OnRollback = &runbooks.HTTPHook{URL: h.srv.url("/undo/${environment}/${version}")}
	h.runEnvironment(envInput(envSpec("production", deploy, check("smoke", h.srv.url("/fail")))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	hits := h.srv.all()
	require.Len(t, hits, 2)
	key := EnvironmentID(testService, "production") + "/" + st.RunID + "/deploy"
	require.Equal(t, hit{Method: "POST", Path: "/deploy/checkout", IdempotencyKey: key}, hits[0])
	require.Equal(t, hit{Method: "POST", Path: "/undo/production/" + testVersion, IdempotencyKey: key + "/rollback"}, hits[1],
		"a hook defaults to POST")
}
