package test

// Slack decisions in a signed environment (slackRunbook's production needs
// signed decisions by default): the worker signs a mapped user's click with
// its Slack key, and refuses, saying what to fix, the click it cannot sign.

import (
	"net/http"
	"strings"
	"testing"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
	"github.com/runbookhq/runbook/workflows"
)

// TestSlackSignedIdentity: an unmapped Slack user's click is refused, the
// person is told they are not mapped and the audit log has the refusal; a
// mapped user's click is signed by the worker and approves the gate, and
// status and the audit log record it as "slack USERID".
func TestSlackSignedIdentity(t *testing.T) {
	t.Parallel()
	r, s, id, gate := openSlackGate(t, "slack-signed")
	if ident := env(t, r.status(id), "production").Identity; !strings.HasPrefix(ident, "signed:") || !strings.Contains(ident, "slack") {
		t.Fatalf("production says decisions are checked as %q, want signed, with slack among the methods", ident)
	}
	value := approveValue(t, gate)

	if code := s.click("U0MALLORY", slackacts.ActionApprove, value, "4.1", slackSecret); code != http.StatusOK {
		t.Fatalf("the unmapped user's click: HTTP %d, want 200 (the refusal comes as an ephemeral message)", code)
	}
	told := ephemeralTo(t, s.fake, "U0MALLORY")
	t.Logf("the unmapped user was told: %s", told)
	if !strings.Contains(told, "your Slack user is not mapped to a runbook identity") || !strings.Contains(told, "RUNBOOK_SLACK_USERS") {
		t.Errorf("the unmapped user was told %q, want that they are not mapped (RUNBOOK_SLACK_USERS)", told)
	}
	eventually(t, "the audit log records the unmapped user's refused click", func() bool {
		return hasAudit(r.auditRecords(id), "gate.approve-refused", "slack:U0MALLORY", "go-live")
	})
	if g := step(t, env(t, r.status(id), "production"), "go-live").Gate; g.State != workflows.StateWaiting || len(g.Approvals) != 0 {
		t.Fatalf("after the unmapped click go-live is %s with %d approvals, want waiting with none", g.State, len(g.Approvals))
	}

	if code := s.click("U0ALICE", slackacts.ActionApprove, value, "4.2", slackSecret); code != http.StatusOK {
		t.Fatalf("alice's click: HTTP %d, want 200", code)
	}
	st := r.waitFor(id, "release finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "production")
	g := step(t, env(t, r.status(id), "production"), "go-live").Gate
	if len(g.Approvals) != 1 || g.Approvals[0].Actor != "alice" || g.Approvals[0].Verified != "slack U0ALICE" {
		t.Errorf("go-live approvals %+v, want alice's, verified as slack U0ALICE", g.Approvals)
	}
	if !hasAuditIdentity(r.auditRecords(id), "gate.approved", "alice", "slack U0ALICE") {
		t.Errorf("the audit log has no gate.approved by alice with identity slack U0ALICE")
	}
}

// TestSlackWithoutSigningKey: a worker without RUNBOOK_SLACK_SIGNING_KEY
// cannot sign even a mapped user's click, so a signed gate refuses it; the
// person is told the worker lacks the key (not that they are unmapped), the
// refusal is audited and the gate still waits.
func TestSlackWithoutSigningKey(t *testing.T) {
	t.Parallel()
	r, s, id, gate := openSlackGate(t, "slack-nokey", "RUNBOOK_SLACK_SIGNING_KEY=")
	if code := s.click("U0ALICE", slackacts.ActionApprove, approveValue(t, gate), "5.1", slackSecret); code != http.StatusOK {
		t.Fatalf("alice's click: HTTP %d, want 200 (the refusal comes as an ephemeral message)", code)
	}
	told := ephemeralTo(t, s.fake, "U0ALICE")
	t.Logf("alice was told: %s", told)
	if !strings.Contains(told, "Not recorded") || !strings.Contains(told, "no Slack signing key (RUNBOOK_SLACK_SIGNING_KEY)") ||
		strings.Contains(told, "not mapped") {
		t.Errorf("alice was told %q, want a refusal naming the worker's missing RUNBOOK_SLACK_SIGNING_KEY", told)
	}
	eventually(t, "the audit log records alice's refused click", func() bool {
		return hasAudit(r.auditRecords(id), "gate.approve-refused", "alice", "go-live")
	})
	if g := step(t, env(t, r.status(id), "production"), "go-live").Gate; g.State != workflows.StateWaiting || len(g.Approvals) != 0 {
		t.Fatalf("after the unsigned click go-live is %s with %d approvals, want waiting with none", g.State, len(g.Approvals))
	}
	r.mustCLI("abort", id, "--as", "carol", "--reason", "test done")
	r.waitFor(id, "release finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
}

// ephemeralTo waits for the ephemeral message runbook posted to a Slack user.
func ephemeralTo(t *testing.T, fake *slackfake.Server, user string) string {
	t.Helper()
	var text string
	eventually(t, "an ephemeral message to "+user, func() bool {
		for _, c := range fake.Calls("chat.postEphemeral") {
			if c.Form.Get("user") == user {
				text = c.Form.Get("text")
				return true
			}
		}
		return false
	})
	return text
}
