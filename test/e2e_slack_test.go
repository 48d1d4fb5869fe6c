package test

// Slack approvals end to end: a real `runbook worker` posts the gate to a
// fake Slack API (slacktest with the methods it lacks), serves signed
// interaction requests on its HTTP address, and sends each click as the
// same Update `runbook approve` sends.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/slackin"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
	"github.com/runbookhq/runbook/workflows"
)

const slackRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    slack:
      channel: C0RELEASES
    database:
      url: env:E2E_SLACK_DB
      driver: sqlite
      migrations: {{.X.Migrations}}
    approvals:
      - name: go-live
        approvers: [alice, carol]
        instructions: Check the dashboards.
    steps:
      - name: schema
        migrate: {}
      - name: deploy
        http-check:
          url: {{.X.URL}}/deploy
`

const (
	slackToken  = "xoxb-e2e-0123456789"
	slackSecret = "e2e-signing-secret-0123456789abcdef"
)

// slackDB is the worker's variable naming the SQLite database the Slack
// runbook migrates.
func slackDB(r *rig) string {
	return "E2E_SLACK_DB=sqlite://" + filepath.Join(r.dir, "slack.db")
}

// slackWorker is a worker with Slack configured against a fake Slack.
type slackWorker struct {
	r    *rig
	fake *slackfake.Server
	addr string
}

// extraEnv is added to the worker's environment (a later NAME=value wins).
func newSlackWorker(t testing.TB, r *rig, extraEnv ...string) *slackWorker {
	t.Helper()
	s := &slackWorker{r: r, fake: slackfake.New(slackToken), addr: fmt.Sprintf("127.0.0.1:%d", appPort(t))}
	t.Cleanup(s.fake.Stop)
	r.startWorker(append([]string{"SLACK_BOT_TOKEN=" + slackToken, "SLACK_SIGNING_SECRET=" + slackSecret, slackDB(r),
		"RUNBOOK_SLACK_API_URL=" + s.fake.URL(), "RUNBOOK_SLACK_USERS=U0ALICE=alice,U0CAROL=carol",
		"RUNBOOK_HTTP_ADDR=" + s.addr}, extraEnv...)...)
	eventually(t, "the worker serves "+s.addr, func() bool {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// click sends a signed click on the gate message's button as user.
func (s *slackWorker) click(user, actionID, value, actionTS string, secret string) int {
	return s.send(goslack.InteractionCallback{
		Type: goslack.InteractionTypeBlockActions, User: goslack.User{ID: user}, TriggerID: "trig-" + actionTS,
		Container: goslack.Container{Type: "message", ChannelID: "C0RELEASES", MessageTs: "1.0"},
		ActionCallback: goslack.ActionCallbacks{BlockActions: []*goslack.BlockAction{{
			ActionID: actionID, BlockID: slackacts.ActionsBlockID, Value: value, ActionTs: actionTS}}},
	}, secret)
}

// submitReason sends the reject dialog (opened with private metadata meta)
// submitted by user with reason.
func (s *slackWorker) submitReason(user, meta, reason string) int {
	return s.send(goslack.InteractionCallback{
		Type: goslack.InteractionTypeViewSubmission, User: goslack.User{ID: user}, TriggerID: "trig-submit",
		View: goslack.View{ID: "V1", CallbackID: slackin.CallbackReject, PrivateMetadata: meta,
			State: &goslack.ViewState{Values: map[string]map[string]goslack.BlockAction{
				"reason": {"reason": {ActionID: "reason", Value: reason}},
			}}},
	}, slackSecret)
}

// send posts an interaction the way Slack does: the payload as a form
// field, signed with v0 HMAC-SHA256 over "v0:<timestamp>:<body>".
func (s *slackWorker) send(ic goslack.InteractionCallback, secret string) int {
	s.r.t.Helper()
	payload, err := json.Marshal(&ic)
	if err != nil {
		s.r.t.Fatal(err)
	}
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req, err := http.NewRequest(http.MethodPost, "http://"+s.addr+slackin.Path, bytes.NewReader(body))
	if err != nil {
		s.r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.r.t.Fatalf("POST %s: %v", slackin.Path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// approveValue finds the Approve button's value in the posted gate message.
func approveValue(t testing.TB, c slackfake.Call) string {
	t.Helper()
	blocks, err := c.Blocks()
	if err != nil {
		t.Fatalf("blocks of the gate message: %v", err)
	}
	for _, b := range blocks.BlockSet {
		if a, ok := b.(*goslack.ActionBlock); ok {
			for _, el := range a.Elements.ElementSet {
				if btn, ok := el.(*goslack.ButtonBlockElement); ok && btn.ActionID == slackacts.ActionApprove {
					return btn.Value
				}
			}
		}
	}
	t.Fatalf("the gate message has no Approve button: %+v", blocks)
	return ""
}

// openSlackGate starts a worker with Slack (and extraEnv), deploys
// slackRunbook as carol and returns the release once its gate message was
// posted.
func openSlackGate(t *testing.T, name string, extraEnv ...string) (*rig, *slackWorker, string, slackfake.Call) {
	t.Helper()
	r := newRig(t, name)
	s := newSlackWorker(t, r, extraEnv...)
	rec := newRecorder(t)
	path, digest := r.writeRunbook("runbook.yaml", slackRunbook, map[string]any{"URL": rec.srv.URL, "Migrations": filepath.Join(repoRoot(t), "runbooks", "examples", "migrations", "checkout")})
	id := r.deploy(path, digest, "1.0.0", "carol")
	r.waitFor(id, "gate go-live waiting", gateWaiting("production", "go-live"))
	posted, err := s.fake.Wait("chat.postMessage", 1, pollDeadline)
	if err != nil {
		t.Fatalf("the gate was not posted to Slack: %v", err)
	}
	return r, s, id, posted[0]
}

// TestSlackApproval: the gate is posted with buttons; a forged click is
// refused with 401; the requester's click is refused (separation of
// duties) with an ephemeral answer, an audit entry and no approval; an
// approver's click opens the gate, the release goes on, the message is
// edited to say who approved, and the audit log says it came from Slack.
func TestSlackApproval(t *testing.T) {
	t.Parallel()
	r, s, id, gate := openSlackGate(t, "slack")
	value := approveValue(t, gate)
	if text := gate.Form.Get("text"); !strings.Contains(text, "go-live") {
		t.Errorf("gate message text %q does not name the gate", text)
	}
	if blocks := gate.Form.Get("blocks"); !strings.Contains(blocks, "000001_create_orders.up.sql (expand)") ||
		!strings.Contains(blocks, "000002_add_order_note.up.sql (expand)") {
		t.Errorf("the gate message does not show the pending migrations with their class:\n%s", blocks)
	}

	if code := s.click("U0ALICE", slackacts.ActionApprove, value, "1.1", "forged-secret"); code != http.StatusUnauthorized {
		t.Errorf("forged signature: HTTP %d, want 401", code)
	}
	if code := s.click("U0CAROL", slackacts.ActionApprove, value, "1.2", slackSecret); code != http.StatusOK {
		t.Fatalf("carol's click: HTTP %d, want 200 (the refusal comes as an ephemeral message)", code)
	}
	eph, err := s.fake.Wait("chat.postEphemeral", 1, pollDeadline)
	if err != nil || !strings.Contains(eph[0].Form.Get("text"), "separation of duties") {
		t.Fatalf("carol's refusal: %v %+v, want an ephemeral message naming separation of duties", err, eph)
	}
	if g := step(t, env(t, r.status(id), "production"), "go-live").Gate; len(g.Approvals) != 0 || g.State != workflows.StateWaiting {
		t.Fatalf("after the refused click the gate is %s with %d approvals, want waiting with none", g.State, len(g.Approvals))
	}

	if code := s.click("U0ALICE", slackacts.ActionApprove, value, "1.3", slackSecret); code != http.StatusOK {
		t.Fatalf("alice's click: HTTP %d, want 200", code)
	}
	st := r.waitFor(id, "release succeeded", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release is %s (%s), want succeeded", st.State, st.Reason)
	}
	eventually(t, "the gate message says alice approved", func() bool {
		for _, u := range s.fake.Calls("chat.update") {
			if strings.Contains(u.Form.Get("text")+u.Form.Get("blocks"), "approved by alice") {
				return true
			}
		}
		return false
	})
	eventually(t, "the release's progress in the gate message's thread", func() bool {
		for _, c := range s.fake.Calls("chat.postMessage") {
			if c.Form.Get("thread_ts") != "" && strings.Contains(c.Form.Get("text"), "deploy: succeeded") {
				return true
			}
		}
		return false
	})
	recs := r.auditRecords(id)
	found := false
	for _, e := range recs {
		if e["action"] == "gate.approved" && e["actor"] == "alice" && e["channel"] == "slack" {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit log has no gate.approved by alice with channel slack")
	}
	if !hasAudit(recs, "gate.approve-refused", "carol", "go-live") {
		t.Errorf("the audit log has no record of carol's refused click")
	}
	res := r.mustCLI("audit", "export", "--release", id, "--since", "1h", "--format", "csv")
	if !strings.HasPrefix(res.stdout, "seq,time,actor,channel,action,") || !strings.Contains(res.stdout, ",alice,slack,gate.approved,") {
		t.Errorf("audit export as CSV lacks the header or alice's Slack approval:\n%s", res.stdout)
	}
}

// TestSlackRejectWithReason: Reject opens a dialog asking why; the
// submitted reason rejects the gate, the release rolls back saying who and
// why, and the message is edited to show it.
func TestSlackRejectWithReason(t *testing.T) {
	t.Parallel()
	r, s, id, gate := openSlackGate(t, "slack-reject")
	value := approveValue(t, gate)
	if code := s.click("U0ALICE", slackacts.ActionReject, value, "2.1", slackSecret); code != http.StatusOK {
		t.Fatalf("alice's reject click: HTTP %d", code)
	}
	views, err := s.fake.Wait("views.open", 1, pollDeadline)
	if err != nil {
		t.Fatalf("the reject click did not open the reason dialog: %v", err)
	}
	var opened struct {
		View struct {
			PrivateMetadata string `json:"private_metadata"`
		} `json:"view"`
	}
	if err := json.Unmarshal(views[0].JSON, &opened); err != nil || opened.View.PrivateMetadata == "" {
		t.Fatalf("views.open body %s: %v; want a view with private_metadata", views[0].JSON, err)
	}
	if code := s.submitReason("U0ALICE", opened.View.PrivateMetadata, "error budget spent"); code != http.StatusOK {
		t.Fatalf("submitting the reason: HTTP %d", code)
	}
	st := r.waitFor(id, "release finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "rejected by alice at gate go-live: error budget spent") {
		t.Fatalf("release is %s (%s), want rolled back: rejected by alice at gate go-live: error budget spent", st.State, st.Reason)
	}
	eventually(t, "the gate message says alice rejected and why", func() bool {
		for _, u := range s.fake.Calls("chat.update") {
			if text := u.Form.Get("text") + u.Form.Get("blocks"); strings.Contains(text, "rejected by alice") && strings.Contains(text, "error budget spent") {
				return true
			}
		}
		return false
	})
}

// TestSlackSocketMode: with --slack-socket-mode (here
// RUNBOOK_SLACK_SOCKET_MODE=true) the worker opens Slack's websocket instead
// of serving HTTP; a click pushed down the socket is acknowledged and
// approves the gate like a click on the public endpoint.
func TestSlackSocketMode(t *testing.T) {
	t.Parallel()
	r := newRig(t, "slack-socket")
	fake := slackfake.New(slackToken)
	t.Cleanup(fake.Stop)
	r.startWorker("SLACK_BOT_TOKEN="+slackToken, "SLACK_SIGNING_SECRET="+slackSecret, slackDB(r),
		"SLACK_APP_TOKEN="+fake.AppToken, "RUNBOOK_SLACK_SOCKET_MODE=true",
		"RUNBOOK_SLACK_API_URL="+fake.URL(), "RUNBOOK_SLACK_USERS=U0ALICE=alice")
	if err := fake.WaitSocket(1, pollDeadline); err != nil {
		t.Fatalf("the worker did not open a Socket Mode connection: %v", err)
	}
	rec := newRecorder(t)
	path, digest := r.writeRunbook("runbook.yaml", slackRunbook, map[string]any{"URL": rec.srv.URL, "Migrations": filepath.Join(repoRoot(t), "runbooks", "examples", "migrations", "checkout")})
	id := r.deploy(path, digest, "1.0.0", "carol")
	r.waitFor(id, "gate go-live waiting", gateWaiting("production", "go-live"))
	posted, err := fake.Wait("chat.postMessage", 1, pollDeadline)
	if err != nil {
		t.Fatalf("the gate was not posted: %v", err)
	}
	env, err := fake.SendInteraction(goslack.InteractionCallback{
		Type: goslack.InteractionTypeBlockActions, User: goslack.User{ID: "U0ALICE"}, TriggerID: "trig-socket",
		Container: goslack.Container{Type: "message", ChannelID: "C0RELEASES", MessageTs: "1.0"},
		ActionCallback: goslack.ActionCallbacks{BlockActions: []*goslack.BlockAction{{
			ActionID: slackacts.ActionApprove, BlockID: slackacts.ActionsBlockID, Value: approveValue(t, posted[0]), ActionTs: "3.1"}}},
	})
	if err != nil {
		t.Fatalf("sending the click down the socket: %v", err)
	}
	if _, err := fake.WaitAck(env, pollDeadline); err != nil {
		t.Fatalf("the click was not acknowledged: %v", err)
	}
	st := r.waitFor(id, "release finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release is %s (%s), want succeeded after alice's click over the socket", st.State, st.Reason)
	}
}
