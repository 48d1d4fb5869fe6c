package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"
)

var at = time.Date(2025, 3, 4, 12, 3, 0, 0, time.UTC)

func waiting() GateMessage {
	return GateMessage{
		ReleaseID: "release/checkout/1.4.2", Service: "checkout", Version: "1.4.2",
		Environment: "production", Requester: "alice", Gate: "release-manager",
		Instructions: "Check the <dashboards> & logs", Approvers: []string{"bob", "carol"},
		MinApprovals: 2, State: StateWaiting,
		Changes:       []string{"~ local_process.app (replace)", "+ local_file.config"},
		Migrations:    []string{"3_add_note (expand)"},
		UILink:        "http://127.0.0.1:8233/namespaces/default/workflows/release%2Fcheckout%2F1.4.2",
		Deadline:      at.Add(24 * time.Hour),
		EnvWorkflowID: "deploy/checkout/production", EnvRunID: "0195a0c2-7d1e-7a55-9d0e-3f1c2b4a5d6e",
	}
}

func TestBlocksWaitingHasButtonsWithRoute(t *testing.T) {
	m := waiting()
	m.Approvals = []Approval{{Actor: "bob", At: at}}
	blocks := Blocks(m)
	approve, reject := findButton(blocks, ActionApprove), findButton(blocks, ActionReject)
	if approve == nil || reject == nil {
		t.Fatalf("want Approve and Reject buttons, got %s", render(t, blocks))
	}
	if approve.Style != goslack.StylePrimary || reject.Style != goslack.StyleDanger {
		t.Errorf("styles = %q %q", approve.Style, reject.Style)
	}
	for _, b := range []*goslack.ButtonBlockElement{approve, reject} {
		r, err := DecodeRoute(b.Value)
		if err != nil || r != RouteOf(m) {
			t.Errorf("value %s decodes to %+v, %v; want %+v", b.Value, r, err, RouteOf(m))
		}
	}
	out := render(t, blocks)
	for _, want := range []string{
		"Approval needed: checkout 1.4.2 → production", "*Requested by*\\nalice", "1 of 2", "bob, carol",
		"Check the &lt;dashboards&gt; &amp; logs", "~ local_process.app (replace)",
		"3_add_note (expand)", "Temporal Web UI", "approved so far by bob at 12:03 UTC", "2025-03-05 12:03 UTC",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("blocks lack %q:\n%s", want, out)
		}
	}
}

func TestBlocksApprovedHasNoButtons(t *testing.T) {
	m := waiting()
	m.State = StateApproved
	m.Approvals = []Approval{{Actor: "bob", At: at.Add(-time.Minute)}, {Actor: "carol", At: at}}
	blocks := Blocks(m)
	if findButton(blocks, ActionApprove) != nil || findButton(blocks, ActionReject) != nil {
		t.Fatalf("closed gate still has buttons: %s", render(t, blocks))
	}
	out := render(t, blocks)
	for _, want := range []string{"Approved: checkout", "approved by bob, carol at 12:03 UTC"} {
		if !strings.Contains(out, want) {
			t.Errorf("blocks lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Decide before") {
		t.Errorf("a closed gate shows its deadline:\n%s", out)
	}
	if got := Text(m); !strings.Contains(got, "approved by bob, carol at 12:03 UTC") {
		t.Errorf("Text = %q", got)
	}
}

func TestBlocksRejectedSaysWhoAndWhy(t *testing.T) {
	m := waiting()
	m.State, m.Rejection, m.Reason = StateRejected, &Approval{Actor: "bob", At: at}, "error rate up"
	blocks := Blocks(m)
	if findButton(blocks, ActionApprove) != nil {
		t.Fatalf("rejected gate still has buttons")
	}
	out := render(t, blocks)
	if !strings.Contains(out, "rejected by bob at 12:03 UTC: error rate up") || !strings.Contains(out, "Rejected: checkout") {
		t.Errorf("blocks:\n%s", out)
	}
	if got := Text(m); !strings.HasPrefix(got, "Rejected: checkout 1.4.2 → production") || !strings.Contains(got, "error rate up") {
		t.Errorf("Text = %q", got)
	}
}

func TestBlocksOtherClosedStates(t *testing.T) {
	for state, want := range map[string]string{
		StateTimedOut:    "timed out with 0 of 2 approvals",
		StateInterrupted: "aborted or cancelled",
	} {
		m := waiting()
		m.State = state
		blocks := Blocks(m)
		if findButton(blocks, ActionApprove) != nil {
			t.Errorf("%s: buttons present", state)
		}
		if out := render(t, blocks); !strings.Contains(out, want) {
			t.Errorf("%s: blocks lack %q:\n%s", state, want, out)
		}
	}
}

func TestBlocksStayWithinSlackLimits(t *testing.T) {
	m := waiting()
	m.Changes = make([]string, 500)
	for i := range m.Changes {
		m.Changes[i] = strings.Repeat("x", 40)
	}
	m.Service = strings.Repeat("s", 200)
	blocks := Blocks(m)
	for _, b := range blocks {
		switch b := b.(type) {
		case *goslack.HeaderBlock:
			if len(b.Text.Text) > maxHeaderLen {
				t.Errorf("header is %d long", len(b.Text.Text))
			}
		case *goslack.SectionBlock:
			if b.Text != nil && len(b.Text.Text) > maxSectionLen {
				t.Errorf("section is %d long", len(b.Text.Text))
			}
		}
	}
	if out := render(t, blocks); !strings.Contains(out, "more") {
		t.Errorf("long change list is not cut with a count")
	}
}

func TestRouteRoundTripAndValidation(t *testing.T) {
	r := RouteOf(waiting())
	if got, err := DecodeRoute(r.Encode()); err != nil || got != r {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	if len(r.Encode()) > 200 {
		t.Errorf("value is %d characters; keep it compact", len(r.Encode()))
	}
	for _, bad := range []string{"", "{}", "not json", `{"r":"x","w":"y"}`, strings.Repeat("a", MaxValueLen+1)} {
		if _, err := DecodeRoute(bad); err == nil {
			t.Errorf("DecodeRoute(%.20q) accepted", bad)
		}
	}
}

func findButton(blocks []goslack.Block, actionID string) *goslack.ButtonBlockElement {
	for _, b := range blocks {
		ab, ok := b.(*goslack.ActionBlock)
		if !ok {
			continue
		}
		for _, e := range ab.Elements.ElementSet {
			if btn, ok := e.(*goslack.ButtonBlockElement); ok && btn.ActionID == actionID {
				return btn
			}
		}
	}
	return nil
}

// render is the JSON Slack receives; tests search it for what people see.
func render(t *testing.T, blocks []goslack.Block) string {
	t.Helper()
	b, err := json.Marshal(goslack.Blocks{BlockSet: blocks})
	if err != nil {
		t.Fatal(err)
	}
	// Undo encoding/json's HTML escaping so tests can search for what Slack shows.
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(b))
}

// Break-glass and risk flags come first and loud; the build line names the
// commit; the plain-text fallback carries the flags too.
func TestBlocksFlagsAndBuild(t *testing.T) {
	m := waiting()
	m.Flags = []string{"BREAK-GLASS: INC-42 <payments> down", "Risk HIGH: contract migration 3_drop.up.sql"}
	m.Build = "github.com/acme/checkout@abc1234, committed 2026-11-25T10:00:00Z, by team-payments"
	out := render(t, Blocks(m))
	for _, want := range []string{
		":rotating_light: *BREAK-GLASS: INC-42 &lt;payments&gt; down*", ":rotating_light: *Risk HIGH: contract migration 3_drop.up.sql*",
		"Build: github.com/acme/checkout@abc1234, committed 2026-11-25T10:00:00Z, by team-payments",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("blocks lack %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "BREAK-GLASS"), strings.Index(out, "Check the"); i < 0 || i > j {
		t.Errorf("the flag should come before the instructions:\n%s", out)
	}
	if txt := Text(m); !strings.HasPrefix(txt, "BREAK-GLASS: INC-42 <payments> down; Risk HIGH") {
		t.Errorf("fallback text %q does not start with the flags", txt)
	}
}

func TestBlocksNameTheSLOCheck(t *testing.T) {
	m := waiting()
	m.SLOCheck = "runbook slo check runbooks/checkout.yaml --env production"
	if out := render(t, Blocks(m)); !strings.Contains(out, "SLO queries answer now? `runbook slo check runbooks/checkout.yaml --env production`") {
		t.Errorf("blocks lack the slo check command:\n%s", out)
	}
	m.SLOCheck = ""
	if out := render(t, Blocks(m)); strings.Contains(out, "slo check") {
		t.Errorf("no SLOs, no hint:\n%s", out)
	}
}
