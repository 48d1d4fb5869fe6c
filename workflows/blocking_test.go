package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
)

func TestBlockingLine(t *testing.T) {
	deadline := time.Date(2026, 12, 8, 4, 1, 30, 0, time.UTC)
	gate := func(approvers ...string) EnvironmentStatus {
		return EnvironmentStatus{State: StateRunning, CurrentStep: "change-manager", Steps: []StepStatus{
			{Name: "verify-artifact", State: StateSucceeded},
			{Name: "change-manager", State: StateWaiting, Gate: &GateStatus{
				Name: "change-manager", State: StateWaiting, Approvers: approvers, MinApprovals: 2,
				Deadline: deadline, Approvals: []Decision{{Actor: "dave"}},
			}},
		}}
	}
	cases := []struct {
		name string
		st   EnvironmentStatus
		want string
	}{
		{"gate", gate("alice", "bob", "group:release-managers"),
			"WAITING: gate change-manager — 1 approval(s) from alice, bob or group:release-managers by 2026-12-08 04:01 UTC — runbook approve R --gate change-manager"},
		{"gate open to all", gate(),
			"WAITING: gate change-manager — 1 approval(s) from anyone but the requester by 2026-12-08 04:01 UTC — runbook approve R --gate change-manager"},
		{"freeze", EnvironmentStatus{State: StateRunning, CurrentStep: "deploy", Steps: []StepStatus{
			{Name: "deploy", State: StateWaiting, Detail: "held by freeze-3 (holiday); lift it with: runbook freeze lift freeze-3 --reason ..."}}},
			"HELD: step deploy held by freeze-3 (holiday); lift it with: runbook freeze lift freeze-3 --reason ..."},
		{"window", EnvironmentStatus{State: StateRunning, CurrentStep: "release-window", Steps: []StepStatus{
			{Name: "release-window", State: StateWaiting, Detail: "waiting for window, opens 09:00"}}},
			"HELD: step release-window — waiting for window, opens 09:00"},
		{"migration", EnvironmentStatus{State: StateRunning, CurrentStep: "schema", Steps: []StepStatus{
			{Name: "schema", Kind: "migrate", State: StateWaiting, Detail: "migration 002 failed; decide: runbook migrate retry R"}}},
			"WAITING: step schema — migration 002 failed; decide: runbook migrate retry R"},
		{"paused", EnvironmentStatus{State: StateRunning, Paused: true, PausedBy: "carol"},
			"PAUSED by carol — runbook resume R"},
		{"inconclusive", EnvironmentStatus{State: StateRunning, Paused: true, PausedBy: holdByAnalysis,
			Traffic: &TrafficStatus{Hold: "analysis inconclusive: p99 no data"}},
			"PAUSED by analysis — analysis inconclusive: p99 no data — runbook resume R | runbook promote R | runbook abort R"},
		{"rolling back", EnvironmentStatus{State: StateRollingBack, Reason: "SLO breach", Compensations: []CompensationStatus{
			{Step: "canary", Action: "weights back", State: StateDone}, {Step: "schema", Action: "down to 3", State: StateCompensating}}},
			"ROLLING BACK: compensation 2 of 2 (schema: down to 3) — SLO breach"},
		{"running", EnvironmentStatus{State: StateRunning, CurrentStep: "deploy", Steps: []StepStatus{{Name: "deploy", State: StateRunning}}}, ""},
		{"ended", EnvironmentStatus{State: StateSucceeded}, ""},
	}
	for _, c := range cases {
		if got := c.st.Blocking("R"); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestGlanceState(t *testing.T) {
	gate := EnvironmentStatus{State: StateRunning, CurrentStep: "g", Steps: []StepStatus{
		{Name: "g", State: StateWaiting, Gate: &GateStatus{Name: "g", State: StateWaiting}}}}
	frozen := EnvironmentStatus{State: StateRunning, CurrentStep: "d", Steps: []StepStatus{
		{Name: "d", State: StateWaiting, Detail: "held by freeze-1"}}}
	running := EnvironmentStatus{State: StateRunning, CurrentStep: "d", Steps: []StepStatus{{Name: "d", State: StateRunning}}}
	for st, want := range map[*EnvironmentStatus]string{&gate: StateWaiting, &frozen: StateHeld, &running: StateRunning} {
		if got := st.glanceState(StateRunning); got != want {
			t.Errorf("%+v: %s, want %s", st.Steps, got, want)
		}
	}
}

func TestReleaseSummaryOpensWithTheBlockingLine(t *testing.T) {
	env := EnvironmentStatus{Name: "production", State: StateRunning, CurrentStep: "g", Steps: []StepStatus{
		{Name: "g", State: StateWaiting, Gate: &GateStatus{Name: "g", State: StateWaiting, Approvers: []string{"bob"}, MinApprovals: 1}}}}
	s := ReleaseStatus{ReleaseID: "release/x/1", Service: "x", Version: "1", State: StateRunning,
		CurrentEnvironment: "production", Environments: []EnvironmentStatus{env}}
	first, _, _ := strings.Cut(s.Summary(), "\n")
	if want := "**production: WAITING: gate g — 1 approval(s) from bob —** `runbook approve release/x/1 --gate g`"; first != want {
		t.Errorf("first line %q, want %q", first, want)
	}
}

// TestReleaseSummaryIsOneLinePerEnvironment: while the release runs, its
// details are the blocking line and one line per environment; its own
// line comes back once it says more than the UI's Running badge.
func TestReleaseSummaryIsOneLinePerEnvironment(t *testing.T) {
	s := ReleaseStatus{Service: "x", Version: "1", State: StateRunning, Environments: []EnvironmentStatus{
		{Name: "staging", State: StateSucceeded}, {Name: "production", State: StateRunning, CurrentStep: "deploy"}}}
	if got, want := s.Summary(), "- staging: succeeded\n- production: running (step deploy)\n"+frameEnd; got != want {
		t.Errorf("running release's details %q, want %q", got, want)
	}
	s.State, s.Reason = StateFailed, "deploy failed"
	if first, _, _ := strings.Cut(s.Summary(), "\n"); first != "**x 1** — failed: deploy failed" {
		t.Errorf("failed release's first line %q", first)
	}
}

func TestStepRowsFitTheDetailsFrame(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	var b strings.Builder
	writeSteps(&b, []StepStatus{
		{Name: "verify-artifact", Kind: "verify-artifact", State: StateSucceeded, Detail: "/tmp/TestWebUIReleaseAtGate3720638899/001/app matches " + digest + " (12 bytes)"},
		{Name: "gate", Kind: "approval", State: StateWaiting, Detail: "waiting", Gate: &GateStatus{State: StateWaiting, Approvers: []string{"bob", "carol"}}},
		{Name: "deploy", State: StatePending},
		{Name: "check", State: StatePending},
	})
	out := b.String()
	if got, want := laterSteps([]StepStatus{{Name: "a", State: StateSucceeded}, {Name: "deploy", State: StatePending},
		{Name: "check", State: StatePending}, {Name: "x", State: StateNotReached}}), " · next: deploy → check · not reached: x"; got != want {
		t.Errorf("laterSteps = %q, want %q", got, want)
	}
	for _, want := range []string{"| step | state | detail |", "| verify-artifact | succeeded | …/001/app matches sha256:0123456789ab… (12 bytes) |",
		"| gate | waiting | waiting — approvers: bob or carol |"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, digest) || strings.Contains(out, "| deploy |") {
		t.Errorf("a full digest or a row for a step not started:\n%s", out)
	}
}

func TestShortDigestsLeavesOtherTextAlone(t *testing.T) {
	for in, want := range map[string]string{
		"no digest":          "no digest",
		"sha256:abc (short)": "sha256:abc (short)",
		"sha256:XYZ":         "sha256:XYZ",
		"a sha256:" + strings.Repeat("a", 64) + " b sha256:" + strings.Repeat("b", 64): "a sha256:aaaaaaaaaaaa… b sha256:bbbbbbbbbbbb…",
	} {
		if got := shortDigests(in); got != want {
			t.Errorf("shortDigests(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPhaseIgnoresStepProgress: moving from step to step is no news for
// the release; waiting at a gate, a pause or a new state is.
func TestPhaseIgnoresStepProgress(t *testing.T) {
	base := EnvironmentStatus{State: StateRunning, CurrentStep: "a", Steps: []StepStatus{
		{Name: "a", State: StateRunning}, {Name: "g", State: StatePending, Gate: &GateStatus{Name: "g", State: StatePending}}}}
	moved := base
	moved.Steps = []StepStatus{{Name: "a", State: StateSucceeded, Detail: "done"}, {Name: "g", State: StatePending, Gate: &GateStatus{Name: "g", State: StatePending}}}
	moved.Revision = 7
	if base.phase() != moved.phase() {
		t.Errorf("a step's progress changed the phase: %q → %q", base.phase(), moved.phase())
	}
	waiting := moved
	waiting.CurrentStep = "g"
	waiting.Steps = []StepStatus{moved.Steps[0], {Name: "g", State: StateWaiting, Gate: &GateStatus{Name: "g", State: StateWaiting}}}
	paused := moved
	paused.Paused, paused.PausedBy = true, "carol"
	ended := moved
	ended.State = StateSucceeded
	for name, s := range map[string]EnvironmentStatus{"gate": waiting, "pause": paused, "end": ended} {
		if s.phase() == moved.phase() {
			t.Errorf("%s did not change the phase %q", name, s.phase())
		}
	}
	if waiting.PhasesOnly = true; waiting.knownStep() != "g" {
		t.Errorf("a release names the blocking step")
	}
	if moved.PhasesOnly = true; moved.knownStep() != "" {
		t.Errorf("a release named step %q it may no longer be at", moved.knownStep())
	}
}

func TestCodeCommand(t *testing.T) {
	for in, want := range map[string]string{
		"held by freeze f-1 (x); lift it with: runbook freeze lift f-1 --reason ...": "held by freeze f-1 (x); lift it with: `runbook freeze lift f-1 --reason ...`",
		"the runbook says nothing": "the runbook says nothing",
	} {
		if got := codeCommand(in); got != want {
			t.Errorf("codeCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrafficRoundsShowTheDecisiveOnce(t *testing.T) {
	var b strings.Builder
	last := metrics.MeasureResult{Round: 3, Verdict: "fail"}
	writeTraffic(&b, &TrafficStatus{Weights: map[string]int{}, Rounds: []metrics.MeasureResult{{Round: 2, Verdict: "pass"}, last}, Decisive: &last})
	if n := strings.Count(b.String(), "| 3 | fail |"); n != 1 {
		t.Errorf("the decisive round shows %d times:\n%s", n, b.String())
	}
}

func TestShortPathsKeepsCommandsWhole(t *testing.T) {
	long := "/tmp/TestWebUIReleaseHeldByFreeze1216748991/001/artifact.bin"
	for in, want := range map[string]string{
		long + " matches": "…/001/artifact.bin matches",
		"GET http://127.0.0.1:38161/production/healthz: 503":      "GET …/production/healthz: 503",
		"short/path and a-very-long-word-without-any-slash-in-it": "short/path and a-very-long-word-without-any-slash-in-it",
		"held; lift it with: runbook freeze lift " + long:         "held; lift it with: runbook freeze lift " + long,
		"/" + strings.Repeat("x", 40):                             "/" + strings.Repeat("x", 40),
	} {
		if got := shortPaths(in); got != want {
			t.Errorf("shortPaths(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCurrentDetailsEndWithTheFrameEnd: the Web UI cuts the last 14 px of
// its details frame, so both texts close with a blank line that takes it.
func TestCurrentDetailsEndWithTheFrameEnd(t *testing.T) {
	rel := ReleaseStatus{Service: "x", Version: "1", State: StateRunning, Build: &BuildInfo{Commit: "abc"},
		Environments: []EnvironmentStatus{{Name: "staging", State: StateRunning}}}
	e := &environment{in: EnvironmentInput{Service: "x", Version: "1", Build: &BuildInfo{Commit: "abc"}},
		status: EnvironmentStatus{Name: "staging", State: StateRunning, Steps: []StepStatus{{Name: "a", State: StateRunning}}}}
	for name, text := range map[string]string{"release": rel.Summary(), "environment": e.details()} {
		if !strings.HasSuffix(text, "Build: commit abc\n"+frameEnd) {
			t.Errorf("%s's current details do not end with the build and the frame's end:\n%s", name, text)
		}
	}
}

// TestRolledBackDetailsShowThePlanFirst: once an environment rolls back,
// its rollback plan comes before the traffic tables, high in the frame.
func TestRolledBackDetailsShowThePlanFirst(t *testing.T) {
	e := &environment{status: EnvironmentStatus{Name: "production", State: StateRolledBack,
		Traffic:       &TrafficStatus{Provider: "edge", Live: "green", Target: "blue", Weights: map[string]int{"green": 100}},
		Compensations: []CompensationStatus{{Step: "canary", Action: "all traffic back to green", State: StateDone}}}}
	d := e.details()
	if plan, traffic := strings.Index(d, "**Rollback plan**"), strings.Index(d, "**Traffic**"); plan < 0 || traffic < 0 || plan > traffic {
		t.Errorf("rolled-back details: the plan at %d, the traffic at %d, want the plan first:\n%s", plan, traffic, d)
	}
	e.status.State = StateRunning
	d = e.details()
	if plan, traffic := strings.Index(d, "**Rollback plan**"), strings.Index(d, "**Traffic**"); plan < traffic {
		t.Errorf("running details: the plan at %d before the traffic at %d:\n%s", plan, traffic, d)
	}
}
