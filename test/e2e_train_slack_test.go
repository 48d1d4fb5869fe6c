package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/workflows"
)

const trainSlackFile = `api-version: runbook/v1
train: %[1]s
environments: [production]
slack: {channel: C0RELEASES}
gates:
  production:
    - {name: cab, approvers: [alice], instructions: "CAB for the whole train"}
services:
  - {name: %[1]s-a, runbook: a.yaml, version: "1.0.0", digest: "%[2]s"}
  - {name: %[1]s-b, runbook: b.yaml, version: "1.0.0", digest: "%[2]s", after: [%[1]s-a]}
`

// TestTrainGateInSlack: the train's CAB gate is posted to Slack once for
// the whole train, naming its services; the requester's click is refused
// (separation of duties), an approver's click opens it, the message says
// who approved, and the train's progress goes into the message's thread.
func TestTrainGateInSlack(t *testing.T) {
	t.Parallel()
	r := newRig(t, "trainslack")
	s := newSlackWorker(t, r)
	rec := newRecorder(t)
	var digest string
	for _, svc := range []string{"a", "b"} {
		_, digest = r.writeRunbook(svc+".yaml", trainServiceRunbook, map[string]any{"URL": rec.srv.URL, "Name": r.service + "-" + svc})
	}
	// trainServiceRunbook has staging too; this train only goes to production.
	path := filepath.Join(r.dir, "train.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, trainSlackFile, r.service, digest), 0o644); err != nil {
		t.Fatal(err)
	}
	id := workflows.TrainID(r.service, "s1")
	r.mustCLI("train", "deploy", path, "--name", "s1", "--as", "carol")
	posted, err := s.fake.Wait("chat.postMessage", 1, pollDeadline)
	if err != nil {
		t.Fatalf("the train gate was not posted to Slack: %v", err)
	}
	gate := posted[0]
	if text := gate.Form.Get("text") + gate.Form.Get("blocks"); !strings.Contains(text, "cab") || !strings.Contains(text, r.service+"-b 1.0.0") {
		t.Errorf("train gate message does not name the gate and the train's services:\n%s", text)
	}
	value := approveValue(t, gate)
	if code := s.click("U0CAROL", slackacts.ActionApprove, value, "2.1", slackSecret); code != http.StatusOK {
		t.Fatalf("carol's click: HTTP %d", code)
	}
	eph, err := s.fake.Wait("chat.postEphemeral", 1, pollDeadline)
	if err != nil || !strings.Contains(eph[0].Form.Get("text"), "separation of duties") {
		t.Fatalf("carol's refusal: %v %+v, want an ephemeral message naming separation of duties", err, eph)
	}
	if code := s.click("U0ALICE", slackacts.ActionApprove, value, "2.2", slackSecret); code != http.StatusOK {
		t.Fatalf("alice's click: HTTP %d", code)
	}
	st := r.waitTrain(id, "the train finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("train is %s (%s), want succeeded", st.State, st.Reason)
	}
	if g := st.Environments[0].Gates[0]; len(g.Approvals) != 1 || g.Approvals[0].Actor != "alice" || !strings.HasPrefix(g.Approvals[0].Verified, "slack ") {
		t.Errorf("train gate approvals %+v, want alice's, signed for her Slack user", g.Approvals)
	}
	eventually(t, "the gate message says alice approved, and the progress is in its thread", func() bool {
		approved, progress := false, false
		for _, u := range s.fake.Calls("chat.update") {
			approved = approved || strings.Contains(u.Form.Get("text")+u.Form.Get("blocks"), "approved by alice")
		}
		for _, c := range s.fake.Calls("chat.postMessage") {
			progress = progress || c.Form.Get("thread_ts") != "" && strings.Contains(c.Form.Get("text"), r.service+"-b 1.0.0 succeeded")
		}
		return approved && progress
	})
}

const trainFollowUpFile = `api-version: runbook/v1
train: %[1]s
environments: [production]
slack: {channel: C0RELEASES}
gates:
  production:
    - {name: cab, approvers: [alice], timeout: 4s, remind-after: 1s, escalate-to: [bob], instructions: "CAB"}
services:
  - {name: %[1]s-a, runbook: a.yaml, version: "1.0.0", digest: "%[2]s"}
`

// TestTrainGateRemindsAndEscalates: a train gate follows up as a release's
// gate does: one reminder in its Slack thread after remind-after, and at
// its timeout it opens to escalate-to for one more timeout, so the first
// approver is refused and the escalation's approver opens it.
func TestTrainGateRemindsAndEscalates(t *testing.T) {
	t.Parallel()
	r := newRig(t, "trainfollow")
	s := newSlackWorker(t, r)
	rec := newRecorder(t)
	_, digest := r.writeRunbook("a.yaml", trainServiceRunbook, map[string]any{"URL": rec.srv.URL, "Name": r.service + "-a"})
	path := filepath.Join(r.dir, "train.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, trainFollowUpFile, r.service, digest), 0o644); err != nil {
		t.Fatal(err)
	}
	id := workflows.TrainID(r.service, "f1")
	r.mustCLI("train", "deploy", path, "--name", "f1", "--as", "carol")
	eventually(t, "the reminder in the gate's thread", func() bool {
		for _, c := range s.fake.Calls("chat.postMessage") {
			if c.Form.Get("thread_ts") != "" && strings.Contains(c.Form.Get("text"), "Reminder: train gate cab is still waiting for 1 approval(s) from alice") {
				return true
			}
		}
		return false
	})
	st := r.waitTrain(id, "the gate escalated to bob", func(st workflows.TrainStatus) bool {
		g := st.Environments[0].Gates[0]
		return g.Escalated && g.State == workflows.StateWaiting
	})
	if g := st.Environments[0].Gates[0]; len(g.Approvers) != 1 || g.Approvers[0] != "bob" {
		t.Fatalf("escalated gate approvers %v, want [bob]", g.Approvers)
	}
	if res := r.cli("train", "approve", id, "--as", "alice"); res.code == 0 || !strings.Contains(res.stderr, "may not decide train gate cab; approvers: bob") {
		t.Fatalf("alice after the escalation: exit %d %q; want refused, naming bob", res.code, res.stderr)
	}
	r.mustCLI("train", "approve", id, "--as", "bob", "--comment", "escalated CAB")
	st = r.waitTrain(id, "the train finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("train is %s (%s), want succeeded", st.State, st.Reason)
	}
	if n := countCalls(s, "Reminder: train gate cab"); n != 1 {
		t.Errorf("%d reminders, want exactly one (none after the escalation)", n)
	}
	eventually(t, "the thread says the gate escalated", func() bool { return countCalls(s, "train gate cab timed out: escalated to bob") == 1 })
	// The train gate's wait is on the worker's /metrics as an environment
	// gate's is, under the train's name.
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^runbook_gate_wait_seconds_count\{[^}]*outcome="approved"[^}]*service="train:%s"[^}]*\} 1$`, r.service))
	eventually(t, "the train gate's wait on /metrics", func() bool {
		resp, err := http.Get("http://" + s.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return want.Match(b)
	})
	exportHistory(t, stack.client, id, "", "train-gate-escalated")
}

// countCalls counts the Slack messages posted whose text contains text.
func countCalls(s *slackWorker, text string) int {
	n := 0
	for _, c := range s.fake.Calls("chat.postMessage") {
		if strings.Contains(c.Form.Get("text"), text) {
			n++
		}
	}
	return n
}
