package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/runbooks"
)

// A window in a zone with a daylight-saving change waits over the change and
// opens at the local opening time, on the new offset.
func TestWindowWaitsAcrossDaylightSavingChange(t *testing.T) {
	for _, tc := range []struct {
		name, zone, start string
		wantDetail        string
		wantOpen          string
	}{
		// Europe springs forward on Sunday 29 March 2026: Monday 09:00 is CEST (UTC+2).
		{"Berlin spring forward", "Europe/Berlin", "2026-03-28T12:00:00Z",
			"opens Mon 2026-03-30 09:00 CEST (2026-03-30 07:00 UTC)", "2026-03-30T07:00:00Z"},
		// The US falls back on Sunday 1 November 2026: Monday 09:00 is EST (UTC-5).
		{"New York fall back", "America/New_York", "2026-10-31T15:00:00Z",
			"opens Mon 2026-11-02 09:00 EST (2026-11-02 14:00 UTC)", "2026-11-02T14:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.env.SetStartTime(utc(tc.start))
			var waiting EnvironmentStatus
			h.at(time.Hour, func() { waiting = h.envStatus() })
			e := envSpec("production", check("deploy", h.srv.url("/deploy")))
			e.ReleaseWindow = &runbooks.ReleaseWindow{Timezone: tc.zone, Days: []string{"mon", "tue", "wed", "thu", "fri"},
				Start: "09:00", End: "16:00"}
			h.runEnvironment(envInput(e))

			require.Contains(t, step(t, waiting, BuiltinWindow).Detail, "waiting for window, "+tc.wantDetail)
			var res EnvironmentResult
			require.NoError(t, h.env.GetWorkflowResult(&res))
			ran := step(t, res.Status, "deploy").StartedAt
			open := utc(tc.wantOpen)
			require.False(t, ran.Before(open), "deploy started at %s, before the window opened at %s", ran, open)
			require.True(t, ran.Before(open.Add(time.Minute)), "deploy started at %s, not when the window opened (%s)", ran, open)
		})
	}
}

// on-closed: fail stops the release at a closed window instead of waiting.
func TestWindowOnClosedFailStopsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T06:00:00Z"))
	e := envSpec("production", check("deploy", h.srv.url("/deploy")))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00", OnClosed: runbooks.OnClosedFail}
	h.runEnvironment(envInput(e))

	st, appErr := h.failedEnv(ErrTypeWindowClosed)
	require.Contains(t, appErr.Error(), "release window closed: outside the release window")
	require.Contains(t, appErr.Error(), "opens Mon 2025-06-02 09:00 UTC")
	require.Equal(t, StateFailed, step(t, st, BuiltinWindow).State)
	require.Empty(t, h.srv.requests())
	require.Equal(t, time.Duration(0), h.env.Now().Sub(utc("2025-06-02T06:00:00Z")).Truncate(time.Minute), "it waited")
}

func activeFreeze(id string, from time.Time, to time.Time, envs ...string) freezes.Freeze {
	return freezes.Freeze{ID: id, Environments: envs, From: from, To: to, Reason: "holiday peak",
		CreatedBy: "cab", CreatedAt: from}
}

// A freeze declared while a release waits at a gate holds its next step;
// lifting it (the Freezes workflow signals the held environment) lets the
// step run.
func TestFreezeCreatedInFlightHoldsNextStep(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	var held EnvironmentStatus
	var requestsWhileHeld []string
	var approval *updateOutcome
	h.at(time.Hour, func() { h.setFreezes(activeFreeze("freeze-1", start.Add(time.Hour), time.Time{}, "production")) })
	h.at(2*time.Hour, func() { approval = h.update(UpdateApprove, DecisionInput{Actor: "bob"}) })
	h.at(3*time.Hour, func() {
		held = h.envStatus()
		requestsWhileHeld = h.srv.requests()
		f := activeFreeze("freeze-1", start.Add(time.Hour), time.Time{}, "production")
		f.LiftedAt, f.LiftedBy, f.LiftReason = start.Add(3*time.Hour), "cab", "peak over"
		h.setFreezes(f)
		h.env.SignalWorkflow(SignalFreezesChanged, nil)
	})
	h.runEnvironment(envInput(envSpec("production", gateStep("go", 1), check("deploy", h.srv.url("/deploy")))))

	requireDecision(t, approval, DecisionResult{Gate: "go", GateState: StateApproved, Approvals: 1, Needed: 1})
	deploy := step(t, held, "deploy")
	require.Equal(t, StateWaiting, deploy.State)
	require.Contains(t, deploy.Detail, "held by freeze freeze-1 (all services in production, until lifted, by cab): holiday peak")
	require.Contains(t, deploy.Detail, "runbook freeze lift freeze-1")
	require.Empty(t, requestsWhileHeld)

	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	deploy = step(t, res.Status, "deploy")
	require.Equal(t, StateSucceeded, deploy.State)
	require.False(t, deploy.EndedAt.Before(start.Add(3*time.Hour)))
	require.Contains(t, h.auditActions(), "step.frozen deploy waiting")
	require.Contains(t, h.auditActions(), "step.unfrozen deploy running")
}

// A freeze with an end wakes the held step by timer when it ends; a freeze
// of another environment or service holds nothing.
func TestFreezeEndsByTimerAndRespectsScope(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	other := activeFreeze("freeze-2", start, start.Add(48*time.Hour), "staging")
	otherSvc := activeFreeze("freeze-3", start, start.Add(48*time.Hour))
	otherSvc.Services = []string{"billing"}
	h.setFreezes(activeFreeze("freeze-1", start, start.Add(5*time.Hour), "production"), other, otherSvc)
	h.runEnvironment(envInput(envSpec("production", check("deploy", h.srv.url("/deploy")))))

	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	ran := step(t, res.Status, "deploy").EndedAt
	require.False(t, ran.Before(start.Add(5*time.Hour)), "deploy ran at %s during the freeze", ran)
	require.True(t, ran.Before(start.Add(6*time.Hour)), "deploy waited for %s, longer than the freeze", ran.Sub(start))
}

func breakGlassInput(e runbooks.Environment) EnvironmentInput {
	in := envInput(e)
	in.Policy.BreakGlass = &runbooks.BreakGlass{Approvers: []string{"erin", "group:emergency"}}
	in.BreakGlass = &BreakGlassRequest{Reason: "INC-42 payments down"}
	return in
}

// Break-glass passes a freeze only with the emergency group's approval; the
// requester and people outside the group are refused; everything is flagged.
func TestBreakGlassPassesFreezeWithEmergencyApproval(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	h.setFreezes(activeFreeze("freeze-1", start, time.Time{}))
	var gate EnvironmentStatus
	var self, outsider, member *updateOutcome
	h.at(time.Minute, func() {
		gate = h.envStatus()
		self = h.update(UpdateApprove, DecisionInput{Actor: testRequester, Gate: BreakGlassGate})
		outsider = h.update(UpdateApprove, DecisionInput{Actor: "bob", Gate: BreakGlassGate})
		member = h.update(UpdateApprove, DecisionInput{Actor: "frank", Groups: []string{"emergency"}, Gate: BreakGlassGate})
	})
	h.runEnvironment(breakGlassInput(envSpec("production", check("deploy", h.srv.url("/deploy")))))

	g := step(t, gate, "deploy").Gate
	require.NotNil(t, g)
	require.Equal(t, BreakGlassGate, g.Name)
	require.Equal(t, StateWaiting, g.State)
	require.Contains(t, g.Instructions, "BREAK-GLASS release requested by dave: INC-42 payments down")
	require.Contains(t, g.Instructions, "freeze freeze-1")
	requireRejected(t, self, "separation of duties")
	requireRejected(t, outsider, "may not decide gate break-glass")
	require.NoError(t, member.err)

	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateSucceeded, step(t, res.Status, "deploy").State)
	require.Contains(t, res.Status.BreakGlass, "approved by frank: INC-42 payments down")
	require.Equal(t, []string{"GET /deploy"}, h.srv.requests())
	actions := h.auditActions()
	require.Contains(t, actions, "break-glass.requested deploy waiting")
	require.Contains(t, actions, "break-glass.approved deploy approved")
}

// A rejected break-glass ends the environment; nothing ran.
func TestBreakGlassRejectedAtClosedWindow(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T06:00:00Z"))
	var bare, reasoned *updateOutcome
	h.at(time.Minute, func() {
		bare = h.update(UpdateReject, DecisionInput{Actor: "erin"})
		reasoned = h.update(UpdateReject, DecisionInput{Actor: "erin", Comment: "not an emergency"})
	})
	e := envSpec("production", check("deploy", h.srv.url("/deploy")))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	h.runEnvironment(breakGlassInput(e))

	requireRejected(t, bare, "needs a reason")
	require.NoError(t, reasoned.err)
	_, appErr := h.failedEnv(ErrTypeRejected)
	require.Contains(t, appErr.Error(), "rejected by erin at gate break-glass: not an emergency")
	require.Empty(t, h.srv.requests())
}

// Break-glass without an emergency group in the runbook cannot pass.
func TestBreakGlassWithoutPolicyFails(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	h.setFreezes(activeFreeze("freeze-1", start, time.Time{}))
	in := envInput(envSpec("production", check("deploy", h.srv.url("/deploy"))))
	in.BreakGlass = &BreakGlassRequest{Reason: "hotfix"}
	h.runEnvironment(in)
	_, appErr := h.failedEnv(ErrTypeInvalid)
	require.Contains(t, appErr.Error(), "names no policy.break-glass approvers")
	require.Empty(t, h.srv.requests())
}

// A held environment that cannot register with the Freezes workflow (its
// run closed) reads the freezes again by timer, so the lift of an
// open-ended freeze reaches it without a signal. Before, it waited for a
// signal that could never come.
func TestHeldEnvironmentRechecksWhenFreezesWorkflowIsClosed(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	h.env.OnSignalExternalWorkflow(mock.Anything, freezes.WorkflowID, "", freezes.SignalWatch, mock.Anything).
		Return(errors.New("workflow execution already completed"))
	frz := activeFreeze("freeze-20261125-abcdef", start, time.Time{}, "production")
	h.setFreezes(frz)
	var held EnvironmentStatus
	h.at(30*time.Second, func() { held = h.envStatus() })
	h.at(10*time.Minute, func() {
		lifted := frz
		lifted.LiftedAt, lifted.LiftedBy, lifted.LiftReason = start.Add(10*time.Minute), "cab", "peak over"
		h.setFreezes(lifted)
	})
	h.runEnvironment(envInput(envSpec("production", check("deploy", h.srv.url("/deploy")))))

	require.Contains(t, step(t, held, "deploy").Detail, "the Freezes workflow is not running: reading the freezes again in 1m0s")
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	deploy := step(t, res.Status, "deploy")
	require.Equal(t, StateSucceeded, deploy.State)
	ran := deploy.EndedAt.Sub(start)
	// Rechecks at 1, 3, 7 and 15 minutes: the lift at 10 is seen at 15.
	require.True(t, ran >= 10*time.Minute && ran <= 16*time.Minute, "deploy ended %s after the start", ran)
}

// Finding 5 of the truthful-rollback issue: a freeze read that keeps failing
// neither retries forever inside one local activity nor lets the step pass
// as if nothing were frozen: the step waits, says why, and reads again.
func TestUnreadableFreezesHoldTheStepVisibly(t *testing.T) {
	h := newHarness(t)
	h.mu.Lock()
	h.freezesDown = true
	h.mu.Unlock()
	var waiting EnvironmentStatus
	var before []string
	h.at(2*time.Minute, func() {
		waiting = h.envStatus()
		before = h.srv.requests()
		h.mu.Lock()
		h.freezesDown = false
		h.mu.Unlock()
	})
	h.runEnvironment(envInput(envSpec("production", check("deploy", h.srv.url("/deploy")))))

	require.NoError(t, h.env.GetWorkflowError())
	st := step(t, waiting, "deploy")
	require.Equal(t, StateWaiting, st.State)
	require.Contains(t, st.Detail, "cannot read the change freezes")
	require.Contains(t, st.Detail, "no worker polls runbook-freezes")
	require.Empty(t, before, "the step ran without knowing the freezes")
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Positive(t, h.refused)
	require.Less(t, h.refused, 40, "reads were retried without bound: %d", h.refused)
	require.Equal(t, []string{"GET /deploy"}, h.srv.requests())
}
