package releases

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/workflows"
)

func TestNormalizeID(t *testing.T) {
	cases := map[string]string{
		"release/checkout/1.4.2":       "release/checkout/1.4.2",
		"checkout/1.4.2":               "release/checkout/1.4.2",
		"checkout/1.4.2+build.7":       "release/checkout/1.4.2+build.7",
		"release/release-notes/1.0.0":  "release/release-notes/1.0.0",
		"release-notes/1.0.0":          "release/release-notes/1.0.0", // a service named release-*
		"releases/1.0.0":               "release/releases/1.0.0",
		"release/checkout/1.4.2-rc.1":  "release/checkout/1.4.2-rc.1",
		"payments-api/2024_06_01-beta": "release/payments-api/2024_06_01-beta",
	}
	for in, want := range cases {
		if got := NormalizeID(in); got != want {
			t.Errorf("NormalizeID(%q) = %q, want %q", in, got, want)
		}
		// Idempotent: the CLI may normalise an ID that is already normal.
		if got := NormalizeID(NormalizeID(in)); got != want {
			t.Errorf("NormalizeID twice on %q = %q, want %q", in, got, want)
		}
	}
}

func TestLink(t *testing.T) {
	c := &Client{UIURL: "http://127.0.0.1:8233/", Namespace: "default"}
	const runID = "0199a7c2-5b1e-7d3a-9f00-1234567890ab"

	got := c.Link("release/checkout/1.4.2", runID)
	want := "http://127.0.0.1:8233/namespaces/default/workflows/release%2Fcheckout%2F1.4.2/" + runID + "/history"
	if got != want {
		t.Errorf("Link with run ID = %q\nwant               %q", got, want)
	}

	got = c.Link("release/checkout/1.4.2", "")
	want = "http://127.0.0.1:8233/namespaces/default/workflows/release%2Fcheckout%2F1.4.2"
	if got != want {
		t.Errorf("Link without run ID = %q\nwant                  %q", got, want)
	}
	if strings.Contains(got, "history") || strings.HasSuffix(got, "/") {
		t.Errorf("Link without run ID %q must end with the workflow ID", got)
	}
}

// TestLinkEscapes: every part that comes from a person is one path segment
// in the link, whatever it contains, and decodes back to what it was.
func TestLinkEscapes(t *testing.T) {
	c := &Client{UIURL: "https://temporal.example.com/ui//", Namespace: "payments prod/eu"}
	id := "release/check out/1.4.2+build?x=1#frag"
	run := "run/with?odd#chars"
	link := c.Link(id, run)

	const base = "https://temporal.example.com/ui/namespaces/"
	if !strings.HasPrefix(link, base) {
		t.Fatalf("link %q does not start with %q (trailing slashes of the UI URL trimmed)", link, base)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q does not parse: %v", link, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		t.Errorf("link %q has a query %q or fragment %q: a ? or # was not escaped", link, u.RawQuery, u.Fragment)
	}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/ui/"), "/")
	if len(segs) != 6 || segs[0] != "namespaces" || segs[2] != "workflows" || segs[5] != "history" {
		t.Fatalf("link path %q: want namespaces/NS/workflows/ID/RUN/history with one segment each, got %q", u.EscapedPath(), segs)
	}
	for i, want := range map[int]string{1: c.Namespace, 3: id, 4: run} {
		got, err := url.PathUnescape(segs[i])
		if err != nil || got != want {
			t.Errorf("segment %d %q decodes to %q (%v), want %q", i, segs[i], got, err, want)
		}
	}
}

// status builds a release status for envForDecision: staging done,
// production current with the gates given.
func decisionStatus(state string, prodGates ...workflows.GateStatus) workflows.ReleaseStatus {
	prod := workflows.EnvironmentStatus{Name: "production", WorkflowID: "deploy/checkout/production", RunID: "run-prod", State: workflows.StateRunning}
	for _, g := range prodGates {
		g := g
		prod.Steps = append(prod.Steps, workflows.StepStatus{Name: g.Name, Kind: "approval", State: g.State, Gate: &g})
	}
	return workflows.ReleaseStatus{
		ReleaseID: "release/checkout/1.4.2", State: state, CurrentEnvironment: "production",
		Environments: []workflows.EnvironmentStatus{
			{Name: "staging", WorkflowID: "deploy/checkout/staging", RunID: "run-stg", State: workflows.StateSucceeded,
				Steps: []workflows.StepStatus{{Name: "stg-gate", Kind: "approval", State: workflows.StateApproved,
					Gate: &workflows.GateStatus{Name: "stg-gate", State: workflows.StateApproved}}}},
			prod,
		},
	}
}

func TestEnvForDecision(t *testing.T) {
	waiting := workflows.GateStatus{Name: "release-manager", State: workflows.StateWaiting, Approvers: []string{"bob"}, MinApprovals: 1}
	st := decisionStatus(workflows.StateRunning, waiting)

	for _, gate := range []string{"", "release-manager"} {
		env, err := envForDecision(st, gate, "")
		if err != nil || env.Name != "production" || env.RunID != "run-prod" {
			t.Errorf("gate %q: got %s/%s, %v; want production run-prod", gate, env.Name, env.RunID, err)
		}
	}
	// A gate that is not waiting anywhere goes to the current environment,
	// whose validator refuses it with the list of its gates.
	for _, gate := range []string{"stg-gate", "nope"} {
		env, err := envForDecision(st, gate, "")
		if err != nil || env.Name != "production" {
			t.Errorf("gate %q: got %s, %v; want the current environment production", gate, env.Name, err)
		}
	}
}

// TestEnvForDecisionGateInLaterEnvironment: a named gate is looked up in
// every environment, not only the current one, so a decision reaches the
// environment whose gate waits even when CurrentEnvironment lags behind
// (the release learns about the next environment through a signal).
func TestEnvForDecisionGateInLaterEnvironment(t *testing.T) {
	st := workflows.ReleaseStatus{
		ReleaseID: "release/checkout/1.4.2", State: workflows.StateRunning, CurrentEnvironment: "staging",
		Environments: []workflows.EnvironmentStatus{
			{Name: "staging", RunID: "run-stg", State: workflows.StateRunning, Steps: []workflows.StepStatus{
				{Name: "qa", State: workflows.StateWaiting, Gate: &workflows.GateStatus{Name: "qa", State: workflows.StateWaiting}}}},
			{Name: "production", RunID: "run-prod", State: workflows.StateRunning, Steps: []workflows.StepStatus{
				{Name: "release-manager", State: workflows.StateWaiting, Gate: &workflows.GateStatus{Name: "release-manager", State: workflows.StateWaiting}}}},
		},
	}
	env, err := envForDecision(st, "release-manager", "")
	if err != nil || env.Name != "production" {
		t.Errorf("gate release-manager: got %q, %v; want production, where it waits", env.Name, err)
	}
	env, err = envForDecision(st, "qa", "")
	if err != nil || env.Name != "staging" {
		t.Errorf("gate qa: got %q, %v; want staging", env.Name, err)
	}
	env, err = envForDecision(st, "", "")
	if err != nil || env.Name != "staging" {
		t.Errorf("no gate named: got %q, %v; want the current environment staging", env.Name, err)
	}
}

func TestEnvForDecisionRefusesFinishedRelease(t *testing.T) {
	waiting := workflows.GateStatus{Name: "release-manager", State: workflows.StateWaiting}
	for _, state := range []string{workflows.StateSucceeded, workflows.StateRolledBack, workflows.StateFailed,
		workflows.StateAborted, workflows.StateRejected, workflows.StateTimedOut} {
		// Even with a (stale) waiting gate in the snapshot: a finished
		// release takes no decisions.
		_, err := envForDecision(decisionStatus(state, waiting), "release-manager", "")
		want := fmt.Sprintf("release release/checkout/1.4.2 is %s; there is nothing to decide", state)
		if err == nil || err.Error() != want {
			t.Errorf("release %s: err = %v, want %q", state, err, want)
		}
	}
}

func TestEnvForDecisionBeforeAnyEnvironment(t *testing.T) {
	st := workflows.ReleaseStatus{ReleaseID: "release/checkout/1.4.2", State: workflows.StateRunning,
		Environments: []workflows.EnvironmentStatus{{Name: "staging", State: workflows.StatePending}}}
	_, err := envForDecision(st, "", "")
	if err == nil || !strings.Contains(err.Error(), "no running environment yet; try again in a moment") {
		t.Errorf("err = %v, want one saying no environment runs yet", err)
	}
}

// TestRefusedKeepsTheValidatorsSentence: the person sees the workflow's own
// explanation, not Temporal's wrapping.
func TestRefusedKeepsTheValidatorsSentence(t *testing.T) {
	inner := temporal.NewApplicationError("bob may not decide gate release-manager; approvers: alice", "Refused")
	err := refused("approve", fmt.Errorf("update failed: %w", inner))
	if got, want := err.Error(), "approve refused: bob may not decide gate release-manager; approvers: alice"; got != want {
		t.Errorf("refused = %q, want %q", got, want)
	}
	plain := errors.New("context deadline exceeded")
	if err := refused("pause", plain); !errors.Is(err, plain) || !strings.HasPrefix(err.Error(), "pause refused: ") {
		t.Errorf("refused of a plain error = %v; want it wrapped", err)
	}
}
