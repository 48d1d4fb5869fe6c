package statusview

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/workflows"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// digestA is a well-formed artifact digest.
var digestA = "sha256:" + strings.Repeat("ab", 32)

// waitingRelease is a release whose production gate waits, with staging
// done and a rollback plan registered in production.
func waitingRelease() workflows.ReleaseStatus {
	return workflows.ReleaseStatus{
		ReleaseID: "release/checkout/1.4.2", Service: "checkout", Version: "1.4.2", Owner: "team-payments",
		Requester: "alice", Digest: digestA, State: workflows.StateRunning, CurrentEnvironment: "production",
		StartedAt: t0,
		Environments: []workflows.EnvironmentStatus{
			{Name: "staging", State: workflows.StateSucceeded, Steps: []workflows.StepStatus{
				{Name: "verify-artifact", Kind: "verify-artifact", State: workflows.StateSucceeded,
					Detail: "/opt/app matches " + digestA, StartedAt: t0, EndedAt: t0.Add(1500 * time.Millisecond)},
				{Name: "smoke", Kind: "http-check", State: workflows.StateSucceeded,
					Detail: "GET http://stg/healthz answered 200 in 3 ms (attempt 1)", StartedAt: t0, EndedAt: t0.Add(2 * time.Second)},
			}},
			{Name: "production", State: workflows.StateRunning, CurrentStep: "release-manager", Steps: []workflows.StepStatus{
				{Name: "flag-on", Kind: "http-check", State: workflows.StateSucceeded, Detail: "POST http://flags/on answered 200"},
				{Name: "db-marker", Kind: "http-check", State: workflows.StateSucceeded, Detail: "POST http://db/mark answered 200"},
				{Name: "release-manager", Kind: "approval", State: workflows.StateWaiting, Detail: "waiting for 2 approval(s)",
					Gate: &workflows.GateStatus{Name: "release-manager", State: workflows.StateWaiting, Approvers: []string{"bob", "carol"},
						MinApprovals: 2, Instructions: "Check the dashboards.", Deadline: time.Date(2026, 3, 2, 13, 30, 0, 0, time.FixedZone("CET", 3600)),
						Approvals: []workflows.Decision{{Actor: "carol", At: t0}}}},
				{Name: "final-smoke", Kind: "http-check", State: workflows.StatePending},
			}, Compensations: []workflows.CompensationStatus{
				{Step: "db-marker", Action: "POST http://db/unmark", State: workflows.StatePending},
				{Step: "flag-on", Action: "POST http://flags/off", State: workflows.StatePending},
			}},
		},
	}
}

func render(st workflows.ReleaseStatus) string {
	var b bytes.Buffer
	Render(&b, st)
	return b.String()
}

func TestRenderWaitingGate(t *testing.T) {
	out := render(waitingRelease())
	t.Logf("\n%s", out)
	for _, want := range []string{
		"release/checkout/1.4.2  checkout 1.4.2  RUNNING\n",
		"requested by alice · owner team-payments · " + digestA,
		"\nstaging: succeeded\n",
		"\nproduction: running\n",
		// The waiting gate: who may approve, how many, how many so far, and
		// the deadline in UTC.
		"needs 2 approval(s) from bob, carol; has 1; deadline 2026-03-02T12:30:00Z",
		"Check the dashboards.",
		"rollback plan (runs top to bottom):\n    1. db-marker: POST http://db/unmark [pending]\n    2. flag-on: POST http://flags/off [pending]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q", want)
		}
	}
	// One line per step, with its mark, name, kind and state, in order.
	wantRows := []struct{ mark, name, kind, state string }{
		{"[ok]", "verify-artifact", "verify-artifact", "succeeded"},
		{"[ok]", "smoke", "http-check", "succeeded"},
		{"[ok]", "flag-on", "http-check", "succeeded"},
		{"[ok]", "db-marker", "http-check", "succeeded"},
		{"[..]", "release-manager", "approval", "waiting"},
		{"[  ]", "final-smoke", "http-check", "pending"},
	}
	var rows [][]string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  [") {
			mark := line[2:6]
			rows = append(rows, append([]string{mark}, strings.Fields(line[6:])...))
		}
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("%d step rows, want %d:\n%s", len(rows), len(wantRows), out)
	}
	for i, w := range wantRows {
		r := rows[i]
		if r[0] != w.mark || r[1] != w.name || r[2] != w.kind || r[3] != w.state {
			t.Errorf("row %d = %q, want %s %s %s %s", i, r, w.mark, w.name, w.kind, w.state)
		}
	}
	if !strings.Contains(out, "smoke            http-check       succeeded    2s\n") {
		t.Errorf("staging/smoke row lacks its duration 2s aligned after the state:\n%s", out)
	}
	if !strings.Contains(out, "verify-artifact  verify-artifact  succeeded    1.5s\n") {
		t.Errorf("verify-artifact row lacks its duration:\n%s", out)
	}
	// The gate's own detail replaces the workflow's shorter one.
	if strings.Contains(out, "waiting for 2 approval(s)") {
		t.Errorf("the waiting gate shows the raw detail instead of approvers and deadline")
	}
	// Detail lines sit under their step.
	if i, j := strings.Index(out, "release-manager  approval"), strings.Index(out, "needs 2 approval(s)"); i < 0 || j < i {
		t.Errorf("gate detail is not under the gate's row")
	}
}

func TestRenderGateWithoutApproversList(t *testing.T) {
	st := waitingRelease()
	st.Environments[1].Steps[2].Gate.Approvers = nil
	st.Environments[1].Steps[2].Gate.MinApprovals = 1
	st.Environments[1].Steps[2].Gate.Approvals = nil
	out := render(st)
	if !strings.Contains(out, "needs 1 approval(s) from anyone but the requester; has 0;") {
		t.Errorf("a gate without approvers should say anyone but the requester may decide:\n%s", out)
	}
}

func TestRenderRolledBack(t *testing.T) {
	st := workflows.ReleaseStatus{
		ReleaseID: "release/checkout/1.4.3", Service: "checkout", Version: "1.4.3", Requester: "alice", Owner: "team",
		State: workflows.StateRolledBack, Reason: "staging: step smoke failed: GET http://stg/healthz: got status 503, want 200",
		Environments: []workflows.EnvironmentStatus{
			{Name: "staging", State: workflows.StateRolledBack, Paused: false, Reason: "step smoke failed", Steps: []workflows.StepStatus{
				{Name: "flag-on", Kind: "http-check", State: workflows.StateCompensated},
				{Name: "smoke", Kind: "http-check", State: workflows.StateFailed, Error: "GET http://stg/healthz: got status 503, want 200"},
				{Name: "confirm", Kind: "approval", State: workflows.StateNotReached,
					Gate: &workflows.GateStatus{Name: "confirm", State: workflows.StatePending, Approvers: []string{"bob"}, MinApprovals: 1}},
			}, Compensations: []workflows.CompensationStatus{
				{Step: "flag-on", Action: "POST http://flags/off", State: workflows.StateFailed, Error: "got status 500, want 200"},
			}},
			{Name: "production", State: workflows.StateNotReached},
		},
	}
	out := render(st)
	t.Logf("\n%s", out)
	for _, want := range []string{
		"ROLLED-BACK: staging: step smoke failed: GET http://stg/healthz: got status 503, want 200\n",
		"\nstaging: rolled-back — step smoke failed\n",
		"[<-] flag-on",
		"[!!] smoke",
		"       error: GET http://stg/healthz: got status 503, want 200\n",
		"[  ] confirm",
		"    1. flag-on: POST http://flags/off [failed] got status 500, want 200\n",
		"\nproduction: not-reached\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q", want)
		}
	}
	// A gate that never opened shows no approvers line.
	if strings.Contains(out, "needs 1 approval") {
		t.Errorf("a gate that was not reached is shown as waiting:\n%s", out)
	}
}

func TestRenderPaused(t *testing.T) {
	st := waitingRelease()
	st.Environments[1].Paused, st.Environments[1].PausedBy = true, "alice"
	if out := render(st); !strings.Contains(out, "\nproduction: running (paused by alice)\n") {
		t.Errorf("paused environment not shown as paused:\n%s", out)
	}
}

func TestTrackerChanges(t *testing.T) {
	var tr Tracker
	st := workflows.ReleaseStatus{
		ReleaseID: "release/checkout/1.4.2", State: workflows.StateRunning, CurrentEnvironment: "staging",
		Environments: []workflows.EnvironmentStatus{
			{Name: "staging", State: workflows.StateRunning, Steps: []workflows.StepStatus{
				{Name: "verify-artifact", State: workflows.StateSucceeded, Detail: "ok"},
				{Name: "smoke", State: workflows.StateRunning},
				{Name: "version", State: workflows.StatePending},
			}},
			{Name: "production", State: workflows.StatePending},
		},
	}

	first := tr.Changes(st)
	want := []string{
		"staging: running",
		"staging/verify-artifact: succeeded — ok",
		"staging/smoke: running",
		"release release/checkout/1.4.2: running",
	}
	if !slices.Equal(first, want) {
		t.Fatalf("first call:\n%s\nwant:\n%s", strings.Join(first, "\n"), strings.Join(want, "\n"))
	}

	if again := tr.Changes(st); len(again) != 0 {
		t.Fatalf("second call with nothing changed printed %q", again)
	}

	st.Environments[0].Steps[1].State = workflows.StateSucceeded
	st.Environments[0].Steps[1].Detail = "GET http://stg/healthz answered 200"
	if got := tr.Changes(st); !slices.Equal(got, []string{"staging/smoke: succeeded — GET http://stg/healthz answered 200"}) {
		t.Fatalf("one step changed, got %q", got)
	}

	// Pausing changes the environment's line, nothing else.
	st.Environments[0].Paused, st.Environments[0].PausedBy = true, "alice"
	if got := tr.Changes(st); !slices.Equal(got, []string{"staging: running (paused by alice)"}) {
		t.Fatalf("pause, got %q", got)
	}
	st.Environments[0].Paused, st.Environments[0].PausedBy = false, ""

	// Staging finishes and production starts in the same poll: staging's
	// last step, then staging's line, then production's.
	st.Environments[0].State = workflows.StateSucceeded
	st.Environments[0].Steps[2].State = workflows.StateSucceeded
	st.Environments[1].State = workflows.StateRunning
	st.Environments[1].Steps = []workflows.StepStatus{{Name: "verify-artifact", State: workflows.StateRunning}}
	st.CurrentEnvironment = "production"
	got := tr.Changes(st)
	want = []string{
		"staging/version: succeeded",
		"staging: succeeded",
		"production: running",
		"production/verify-artifact: running",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("environment change:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTrackerFinishedEnvironmentAfterItsSteps: an environment that ended
// (here rolled back) is reported after its steps and its rollback, so the
// log reads in the order things happened.
func TestTrackerFinishedEnvironmentAfterItsSteps(t *testing.T) {
	var tr Tracker
	st := workflows.ReleaseStatus{
		ReleaseID: "release/checkout/1.4.3", State: workflows.StateRolledBack, Reason: "staging: step smoke failed",
		Environments: []workflows.EnvironmentStatus{
			{Name: "staging", State: workflows.StateRolledBack, Reason: "step smoke failed", Steps: []workflows.StepStatus{
				{Name: "flag-on", State: workflows.StateCompensated},
				{Name: "smoke", State: workflows.StateFailed, Error: "got status 503"},
			}, Compensations: []workflows.CompensationStatus{{Step: "flag-on", Action: "POST http://flags/off", State: workflows.StateDone}}},
			{Name: "production", State: workflows.StateNotReached},
		},
	}
	got := tr.Changes(st)
	want := []string{
		"staging/flag-on: compensated",
		"staging/smoke: failed — error: got status 503",
		"staging/flag-on rollback: POST http://flags/off done",
		"staging: rolled-back — step smoke failed",
		"production: not-reached",
		"release release/checkout/1.4.3: rolled-back — staging: step smoke failed",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTrackerShowsApprovalProgress: a gate that needs two approvals and
// gets the first one changes what `runbook status` shows ("has 1"), so the
// line-per-change output of `runbook watch` must show it too.
func TestTrackerShowsApprovalProgress(t *testing.T) {
	var tr Tracker
	st := waitingRelease()
	gate := st.Environments[1].Steps[2].Gate
	gate.Approvals = nil
	first := strings.Join(tr.Changes(st), "\n")
	if !strings.Contains(first, "production/release-manager: waiting — needs 2 approval(s) from bob, carol; has 0; deadline 2026-03-02T12:30:00Z Check the dashboards.") {
		t.Fatalf("first call does not show the waiting gate on one line:\n%s", first)
	}
	gate.Approvals = []workflows.Decision{{Actor: "carol", At: t0}}
	got := tr.Changes(st)
	if len(got) != 1 || !strings.Contains(got[0], "has 1") {
		t.Errorf("after carol's approval (1 of 2) the tracker printed %q; want one line with has 1", got)
	}
}

// TestSucceededEnvironmentHidesUnusedRollbackPlan: the compensations of an
// environment that succeeded were never needed; neither the table nor the
// tracker presents them as a plan or as news.
func TestSucceededEnvironmentHidesUnusedRollbackPlan(t *testing.T) {
	st := waitingRelease()
	prod := &st.Environments[1]
	prod.State = workflows.StateSucceeded
	for i := range prod.Compensations {
		prod.Compensations[i].State = workflows.StateNotNeeded
	}
	out := render(st)
	if strings.Contains(out, "rollback plan") || strings.Contains(out, "flags/off") {
		t.Errorf("a succeeded environment shows its unused rollback plan:\n%s", out)
	}
	var tr Tracker
	for _, line := range tr.Changes(st) {
		if strings.Contains(line, "rollback") {
			t.Errorf("tracker reports %q for a rollback that never ran", line)
		}
	}
	// While the plan is pending it is shown (the status table) but is not
	// news for the tracker; once it runs, it is.
	st = waitingRelease()
	if out := render(st); !strings.Contains(out, "rollback plan") {
		t.Errorf("pending rollback plan not shown:\n%s", out)
	}
	tr = Tracker{}
	for _, line := range tr.Changes(st) {
		if strings.Contains(line, "rollback") {
			t.Errorf("tracker reports a pending compensation: %q", line)
		}
	}
	st.Environments[1].Compensations[0].State = workflows.StateCompensating
	got := tr.Changes(st)
	if !slices.Contains(got, "production/db-marker rollback: POST http://db/unmark compensating") {
		t.Errorf("a running compensation is not reported: %q", got)
	}
}

// A signed environment says how decisions are checked, and each decision
// names how its person was verified.
func TestRenderShowsVerifiedIdentities(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	st := workflows.ReleaseStatus{ReleaseID: "release/checkout/1.0.0", Environments: []workflows.EnvironmentStatus{{
		Name: "production", State: workflows.StateSucceeded, Identity: "signed: ssh, slack",
		Requester: &identity.Identity{Name: "dave", Method: identity.MethodSSH, Key: "SHA256:dave"},
		Steps: []workflows.StepStatus{{Name: "cab", Kind: "approval", State: workflows.StateApproved,
			Gate: &workflows.GateStatus{Name: "cab", State: workflows.StateApproved, Approvals: []workflows.Decision{
				{Actor: "carol", At: at, Verified: "ssh SHA256:carol"}, {Actor: "bob", At: at, Verified: "slack U0BOB"}}}}},
	}}}
	var b strings.Builder
	Render(&b, st)
	for _, want := range []string{
		"decisions: signed: ssh, slack",
		"requested by dave (ssh SHA256:dave)",
		"approved by carol (ssh SHA256:carol) at 2026-12-07T10:00:00Z",
		"approved by bob (slack U0BOB)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
