package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/runbooks"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextOpening(t *testing.T) {
	office := runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	weekdays := runbooks.ReleaseWindow{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}
	berlin := runbooks.ReleaseWindow{Timezone: "Europe/Berlin", Start: "09:00", End: "17:00"}
	freeze := runbooks.ReleaseWindow{Start: "09:00", End: "17:00", Blackouts: []runbooks.Blackout{
		{From: "2025-12-24", To: "2025-12-26", Reason: "holiday freeze"}}}
	tests := []struct {
		name   string
		now    string
		w      runbooks.ReleaseWindow
		want   string // RFC 3339 instant; "now" for open now
		reason string // substring of the reason when closed
	}{
		{"open now", "2025-06-02T10:00:00Z", office, "now", ""},
		{"opens at start", "2025-06-02T09:00:00Z", office, "now", ""},
		{"no window bounds: always open", "2025-06-02T03:00:00Z", runbooks.ReleaseWindow{}, "now", ""},
		{"before start same day", "2025-06-02T06:00:00Z", office, "2025-06-02T09:00:00Z",
			"outside the release window (every day 09:00-17:00 UTC)"},
		{"after end: next day", "2025-06-02T18:00:00Z", office, "2025-06-03T09:00:00Z", "outside the release window"},
		{"end is exclusive", "2025-06-02T17:00:00Z", office, "2025-06-03T09:00:00Z", ""},
		{"one minute before end is open", "2025-06-02T16:59:00Z", office, "now", ""},
		{"days: Friday evening → Monday", "2025-06-06T18:00:00Z", weekdays, "2025-06-09T09:00:00Z",
			"outside the release window (mon,tue,wed,thu,fri 09:00-17:00 UTC)"},
		{"days: Saturday noon → Monday", "2025-06-07T12:00:00Z", weekdays, "2025-06-09T09:00:00Z", ""},
		{"days only, whole day", "2025-06-07T12:00:00Z", runbooks.ReleaseWindow{Days: []string{"wed"}},
			"2025-06-11T00:00:00Z", "outside the release window (wed 00:00-24:00 UTC)"},
		{"blackout with reason", "2025-12-24T10:00:00Z", freeze, "2025-12-27T09:00:00Z",
			"blackout 2025-12-24..2025-12-26 (holiday freeze)"},
		{"blackout ends: open the day after", "2025-12-27T10:00:00Z", freeze, "now", ""},
		{"blackout without reason", "2025-12-25T10:00:00Z", runbooks.ReleaseWindow{
			Blackouts: []runbooks.Blackout{{From: "2025-12-25", To: "2025-12-25"}}}, "2025-12-26T00:00:00Z",
			"blackout 2025-12-25..2025-12-25"},
		{"Berlin winter", "2025-01-15T07:00:00Z", berlin, "2025-01-15T08:00:00Z",
			"outside the release window (every day 09:00-17:00 Europe/Berlin)"},
		{"Berlin summer", "2025-06-02T06:00:00Z", berlin, "2025-06-02T07:00:00Z", ""},
		{"Berlin summer, open", "2025-06-02T07:30:00Z", berlin, "now", ""},
		{"Berlin summer, after end", "2025-06-02T15:00:00Z", berlin, "2025-06-03T07:00:00Z", ""},
		// 2025-03-30: clocks go from 02:00 CET to 03:00 CEST; 09:00 local is 07:00Z.
		{"Berlin DST starts", "2025-03-30T05:00:00Z", berlin, "2025-03-30T07:00:00Z", ""},
		{"Berlin DST starts, 09:30 local is open", "2025-03-30T07:30:00Z", berlin, "now", ""},
		{"Berlin DST starts, 16:30 local is open", "2025-03-30T14:30:00Z", berlin, "now", ""},
		{"Berlin DST starts, 17:30 local is closed", "2025-03-30T15:30:00Z", berlin, "2025-03-31T07:00:00Z", ""},
		// 2025-10-26: clocks go from 03:00 CEST back to 02:00 CET; 09:00 local is 08:00Z.
		{"Berlin DST ends", "2025-10-26T06:00:00Z", berlin, "2025-10-26T08:00:00Z", ""},
		{"Berlin DST ends, 08:30 local is closed", "2025-10-26T07:30:00Z", berlin, "2025-10-26T08:00:00Z", ""},
		{"Berlin DST ends, 23:30 local is open until 24:00", "2025-10-26T22:30:00Z",
			runbooks.ReleaseWindow{Timezone: "Europe/Berlin", Days: []string{"sun"}}, "now", ""},
		{"Berlin Sunday 23:30 local is Sunday, not UTC Monday", "2025-06-01T21:30:00Z",
			runbooks.ReleaseWindow{Timezone: "Europe/Berlin", Days: []string{"sun"}}, "now", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := utc(tc.now)
			got, why, err := NextOpening(now, tc.w)
			require.NoError(t, err)
			if tc.want == "now" {
				require.True(t, got.Equal(now), "want open now, got %s (%s)", got.UTC().Format(time.RFC3339), why)
				require.Empty(t, why)
				return
			}
			require.Equal(t, tc.want, got.UTC().Format(time.RFC3339), "reason: %s", why)
			require.NotEmpty(t, why)
			require.Contains(t, why, tc.reason)
		})
	}
}

func TestNextOpeningErrors(t *testing.T) {
	now := utc("2025-06-02T10:00:00Z")
	tests := []struct {
		name string
		w    runbooks.ReleaseWindow
		want string
	}{
		{"never opens", runbooks.ReleaseWindow{Days: []string{"mon"}, Blackouts: []runbooks.Blackout{
			{From: "2025-01-01", To: "2027-12-31"}}}, "does not open in the next 400 days"},
		{"unknown zone", runbooks.ReleaseWindow{Timezone: "Mars/Olympus"}, `unknown time zone "Mars/Olympus"`},
		{"bad start", runbooks.ReleaseWindow{Start: "9am"}, `time "9am" is not HH:MM`},
		{"bad end", runbooks.ReleaseWindow{End: "25:00"}, `time "25:00" is not HH:MM`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := NextOpening(now, tc.w)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// The environment waits, visibly, on a durable timer until the window opens.
func TestEnvironmentWaitsForReleaseWindow(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T06:00:00Z"))
	var waiting EnvironmentStatus
	var requestsWhileClosed []string
	h.at(time.Hour, func() {
		waiting = h.envStatus()
		requestsWhileClosed = h.srv.requests()
	})
	e := envSpec("production", check("deploy", h.srv.url("/deploy")))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	h.runEnvironment(envInput(e))

	w := step(t, waiting, BuiltinWindow)
	require.Equal(t, BuiltinWindow, w.Kind)
	require.Equal(t, StateWaiting, w.State)
	require.Contains(t, w.Detail, "outside the release window")
	require.Contains(t, w.Detail, "waiting for window, opens Mon 2025-06-02 09:00 UTC")
	require.Equal(t, BuiltinWindow, waiting.CurrentStep)
	require.Equal(t, StatePending, step(t, waiting, BuiltinArtifact).State)
	require.Empty(t, requestsWhileClosed)

	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	w = step(t, res.Status, BuiltinWindow)
	require.Equal(t, StateSucceeded, w.State)
	require.Equal(t, "window opened at 2025-06-02T09:00:00Z", w.Detail)
	require.Equal(t, utc("2025-06-02T09:00:00Z"), w.EndedAt.UTC())
	deploy := step(t, res.Status, "deploy")
	require.Equal(t, StateSucceeded, deploy.State)
	require.False(t, deploy.StartedAt.Before(utc("2025-06-02T09:00:00Z")), "deploy ran before the window opened")
	require.Equal(t, []string{"GET /deploy"}, h.srv.requests())
}

func TestEnvironmentInsideWindowDoesNotWait(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T10:00:00Z"))
	e := envSpec("production", check("deploy", h.srv.url("/deploy")))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	h.runEnvironment(envInput(e))

	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	w := step(t, res.Status, BuiltinWindow)
	require.Equal(t, "window open", w.Detail)
	require.Equal(t, w.StartedAt, w.EndedAt)
}

// An abort while the environment waits for its window interrupts the wait;
// the window step must not be left "waiting" in the final status.
func TestAbortWhileWaitingForWindow(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T06:00:00Z"))
	var abort *updateOutcome
	h.at(time.Hour, func() { abort = h.update(UpdateAbort, ControlInput{Actor: "erin"}) })
	e := envSpec("production", check("deploy", h.srv.url("/deploy")))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	h.runEnvironment(envInput(e))

	requireControl(t, abort, StateRollingBack)
	st, _ := h.failedEnv(ErrTypeAborted)
	require.Equal(t, StateRolledBack, st.State)
	require.Empty(t, h.srv.requests())
	require.Equal(t, StateNotReached, step(t, st, "deploy").State)
	require.Equal(t, StateInterrupted, step(t, st, BuiltinWindow).State, "steps: %v", stepStates(st))
}

// Approvals can take hours: a step after a gate approved once the window has
// closed waits for the next opening instead of running outside the window.
func TestStepAfterLateApprovalWaitsForNextWindow(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T10:00:00Z"))
	var waiting EnvironmentStatus
	var requestsWhileClosed []string
	h.at(8*time.Hour, func() { // 18:00, after the window closed at 17:00
		h.update(UpdateApprove, DecisionInput{Actor: "bob"})
	})
	h.at(9*time.Hour, func() {
		waiting = h.envStatus()
		requestsWhileClosed = h.srv.requests()
	})
	e := envSpec("production", gateStep("go", 1), check("deploy", h.srv.url("/deploy")))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	h.runEnvironment(envInput(e))

	deploy := step(t, waiting, "deploy")
	require.Equal(t, StateWaiting, deploy.State)
	require.Contains(t, deploy.Detail, "opens Tue 2025-06-03 09:00 UTC")
	require.Empty(t, requestsWhileClosed)

	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	deploy = step(t, res.Status, "deploy")
	require.Equal(t, StateSucceeded, deploy.State)
	require.False(t, deploy.EndedAt.Before(utc("2025-06-03T09:00:00Z")), "deploy ran outside the window")
	require.Equal(t, []string{"GET /deploy"}, h.srv.requests())
}

// TestFinancialCloseBlackout: last-business-days: 3 closes every month
// from its third-last weekday to its end, weekend included.
func TestFinancialCloseBlackout(t *testing.T) {
	w := runbooks.ReleaseWindow{Timezone: "Europe/Berlin",
		Blackouts: []runbooks.Blackout{{LastBusinessDays: 3, Reason: "financial close"}}}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, berlin) }
	for _, tc := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		// November 2026 ends on Monday the 30th: Thu 26, Fri 27, Mon 30.
		{"the day before the close is open", at(2026, 11, 25, 10), at(2026, 11, 25, 10)},
		{"the close waits for December", at(2026, 11, 26, 10), at(2026, 12, 1, 0)},
		{"the weekend inside the close stays closed", at(2026, 11, 28, 10), at(2026, 12, 1, 0)},
		// October 2026 ends on Saturday the 31st: Wed 28, Thu 29, Fri 30, then the weekend.
		{"a month ending on a weekend closes from Wednesday", at(2026, 10, 28, 9), at(2026, 11, 1, 0)},
		{"Tuesday before is open", at(2026, 10, 27, 9), at(2026, 10, 27, 9)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why, err := NextOpening(tc.now, w)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("NextOpening(%s) = %s, want %s", tc.now, got, tc.want)
			}
			if got.After(tc.now) && why != "blackout: the last 3 business days of the month (financial close)" {
				t.Errorf("reason %q", why)
			}
		})
	}
}
