package main

import (
	"strings"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

func TestOutcome(t *testing.T) {
	ok := workflows.ReleaseStatus{ReleaseID: "release/checkout/1.4.2", State: workflows.StateSucceeded}
	if err := outcome(ok); err != nil {
		t.Errorf("outcome(succeeded) = %v, want nil", err)
	}
	cases := []struct{ state, reason string }{
		{workflows.StateRolledBack, "staging: rejected by bob at gate go-live: error rate up"},
		{workflows.StateFailed, "production: step smoke failed: GET http://prod/healthz: got status 503, want 200"},
		{workflows.StateAborted, "staging: aborted by alice: wrong build"},
		{workflows.StateRejected, "production: rejected by carol at gate release-manager"},
		{workflows.StateTimedOut, "production: approval gate release-manager timed out after 1h0m0s without enough approvals"},
		// Not final: a caller that gave up waiting must not report success.
		{workflows.StateRunning, "still running"},
		{workflows.StatePending, "not started"},
		{"", "no state"},
	}
	for _, c := range cases {
		st := workflows.ReleaseStatus{ReleaseID: "release/checkout/1.4.2", State: c.state, Reason: c.reason}
		err := outcome(st)
		if err == nil {
			t.Errorf("outcome(%q) = nil; only succeeded may exit 0", c.state)
			continue
		}
		exit := asExit(t, err)
		if exit.code != 1 {
			t.Errorf("outcome(%q): exit code %d, want 1", c.state, exit.code)
		}
		want := "release release/checkout/1.4.2 " + c.state + ": " + c.reason
		if exit.msg != want {
			t.Errorf("outcome(%q) message %q, want %q", c.state, exit.msg, want)
		}
	}
}

// A rollback that could not undo (or read back) everything has an exit code
// of its own: a pipeline must not treat it as an ordinary failure.
func TestOutcomeRollbackIncomplete(t *testing.T) {
	st := workflows.ReleaseStatus{ReleaseID: "release/checkout/1.4.2", State: workflows.StateRollbackIncomplete,
		Reason: "production: aborted by erin; rollback incomplete: schema left (see leftovers in runbook status release/checkout/1.4.2)"}
	exit := asExit(t, outcome(st))
	if exit.code != 3 {
		t.Fatalf("exit code %d, want 3", exit.code)
	}
	if !strings.Contains(exit.msg, "rollback-incomplete: production: aborted by erin; rollback incomplete: schema left") {
		t.Fatalf("message %q does not say what is left", exit.msg)
	}
}

// TestOutcomeOneLine: the message is the last thing `runbook watch` and
// `deploy --wait` print, and CI logs show it as one line; a reason may carry
// a person's multi-line comment (reject --comment).
func TestOutcomeOneLine(t *testing.T) {
	st := workflows.ReleaseStatus{ReleaseID: "release/checkout/1.4.2", State: workflows.StateRolledBack,
		Reason: "staging: rejected by bob at gate go-live: error rate up\nsee dashboard\r\nINC-42"}
	exit := asExit(t, outcome(st))
	if strings.ContainsAny(exit.msg, "\r\n") {
		t.Errorf("outcome message spans several lines: %q", exit.msg)
	}
	for _, want := range []string{"release/checkout/1.4.2", "rolled-back", "error rate up", "INC-42"} {
		if !strings.Contains(exit.msg, want) {
			t.Errorf("outcome message %q lost %q", exit.msg, want)
		}
	}
}
