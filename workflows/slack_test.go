package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/runbooks"
)

// TestSlackMessageFollowsTheGate: the gate is posted once when it opens,
// edited on an approval that does not close it yet, and edited again when
// it closes, with every approval and no buttons.
func TestSlackMessageFollowsTheGate(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterActivity(&slack.Activities{})
	var mu sync.Mutex
	var posted []slack.PostGateInput
	var updates []slack.UpdateGateInput
	h.env.OnActivity(slackActs.PostGate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in slack.PostGateInput) (slack.PostGateResult, error) {
			mu.Lock()
			defer mu.Unlock()
			posted = append(posted, in)
			return slack.PostGateResult{Channel: "C1", TS: "1700000000.000100"}, nil
		})
	var thread []string
	h.env.OnActivity(slackActs.PostThread, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in slack.PostThreadInput) error {
			mu.Lock()
			defer mu.Unlock()
			thread = append(thread, in.ThreadTS+" "+in.Text)
			return nil
		})
	h.env.OnActivity(slackActs.UpdateGate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in slack.UpdateGateInput) error {
			mu.Lock()
			defer mu.Unlock()
			updates = append(updates, in)
			return nil
		})
	e := envSpec("production", gateStep("go-live", 2, "alice", "bob", "carol"), check("deploy", h.srv.url("/deploy")))
	e.Slack = &runbooks.Slack{Channel: "#releases"}
	in := envInput(e)
	in.UIURL = "http://ui.example"
	h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "alice", Channel: "slack"}) })
	h.at(2*time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "bob"}) })
	h.runEnvironment(in)
	require.NoError(t, h.env.GetWorkflowError())

	require.Len(t, posted, 1)
	m := posted[0].Message
	require.Equal(t, "#releases", posted[0].Channel)
	require.Equal(t, slack.StateWaiting, m.State)
	require.Equal(t, "go-live", m.Gate)
	require.Equal(t, []string{"alice", "bob", "carol"}, m.Approvers)
	require.Contains(t, m.UILink, "http://ui.example/namespaces/")
	require.NotEmpty(t, m.EnvWorkflowID)
	require.NotEmpty(t, m.EnvRunID)

	require.Len(t, updates, 2)
	require.Equal(t, "1700000000.000100", updates[0].TS)
	require.Equal(t, slack.StateWaiting, updates[0].Message.State)
	require.Len(t, updates[0].Message.Approvals, 1)
	require.Equal(t, slack.StateApproved, updates[1].Message.State)
	require.Len(t, updates[1].Message.Approvals, 2)

	require.Len(t, thread, 2, "the deploy step and the end of the environment, in the gate's thread: %v", thread)
	require.Contains(t, thread[0], "1700000000.000100 deploy: succeeded")
	require.Contains(t, thread[1], "production: succeeded")

	var channels []string
	for _, en := range h.auditEntries() {
		if en.Action == "gate.approved" {
			channels = append(channels, en.Actor+"/"+en.Channel)
		}
	}
	require.Equal(t, []string{"alice/slack", "bob/ui"}, channels)
}

// TestGateEscalatesAndRemindsOnce: with remind-after, one reminder goes to
// the message's thread; at the timeout the gate opens to escalate-to for
// one more timeout instead of failing, and an escalation approver decides.
func TestGateEscalatesAndRemindsOnce(t *testing.T) {
	h := newHarness(t)
	th := fakeSlackThread(h)
	gate := gateStep("go-live", 1, "alice")
	gate.Approval.Timeout = runbooks.Duration(time.Hour)
	gate.Approval.RemindAfter = runbooks.Duration(10 * time.Minute)
	gate.Approval.EscalateTo = []string{"erin"}
	e := envSpec("production", gate, check("deploy", h.srv.url("/deploy")))
	e.Slack = &runbooks.Slack{Channel: "C1"}
	var early, late *updateOutcome
	h.at(30*time.Minute, func() { early = h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "erin"}) })
	h.at(90*time.Minute, func() { late = h.updateEnv("production", UpdateApprove, DecisionInput{Actor: "erin"}) })
	h.runEnvironment(envInput(e))
	require.NoError(t, h.env.GetWorkflowError())

	requireRejected(t, early, "erin may not decide gate go-live; approvers: alice")
	require.True(t, late.completed, "erin approves once the gate escalated to her")
	reminders := 0
	for _, line := range th.all() {
		if strings.HasPrefix(line, "Reminder: gate go-live") {
			reminders++
		}
	}
	require.Equal(t, 1, reminders, "exactly one reminder: %v", th.all())
	require.Contains(t, strings.Join(th.all(), "\n"), "gate go-live timed out: escalated to erin")
	require.Contains(t, h.auditActions(), "gate.escalated go-live waiting")
	g := step(t, h.envStatus(), "go-live").Gate
	require.True(t, g.Escalated)
	require.Equal(t, []string{"erin"}, g.Approvers)
}

// TestSlackGateShowsThePlan: the message of a gate before a provision step
// says what the plan would change; the step then plans again for itself.
func TestSlackGateShowsThePlan(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne))
	h.env.RegisterActivity(&slack.Activities{})
	var posted []slack.PostGateInput
	h.env.OnActivity(slackActs.PostGate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in slack.PostGateInput) (slack.PostGateResult, error) {
			posted = append(posted, in)
			return slack.PostGateResult{Channel: "C1", TS: "1.1"}, nil
		})
	h.env.OnActivity(slackActs.UpdateGate, mock.Anything, mock.Anything).Return(nil)
	h.env.OnActivity(slackActs.PostThread, mock.Anything, mock.Anything).Return(nil)
	e := infraEnv(runbooks.Infra{}, gateStep("go-live", 1, "alice"), provisionStep("provision", nil))
	e.Slack = &runbooks.Slack{Channel: "C1"}
	h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "alice"}) })
	h.runEnvironment(envInput(e))
	require.NoError(t, h.env.GetWorkflowError())
	require.Len(t, posted, 1)
	require.Equal(t, []string{"infrastructure: " + addOne.String()}, posted[0].Message.Changes)
	require.Len(t, tf.plansIn(), 2, "one plan for the preview, one by the provision step")
}

// A rollback that leaves something behind says so in the gate's thread: what
// is left and the command that finishes it.
func TestSlackThreadNamesTheLeftovers(t *testing.T) {
	h := newHarness(t)
	h.failPath("/undo/deploy", "undo endpoint gone")
	th := fakeSlackThread(h)
	e := envSpec("production", undo(check("deploy", h.srv.url("/deploy")), h.srv.url("/undo/deploy")), gateStep("verify", 1, "carol"))
	e.Slack = &runbooks.Slack{Channel: "#releases"}
	h.at(time.Minute, func() { h.update(UpdateReject, DecisionInput{Actor: "carol"}) })
	h.runEnvironment(envInput(e))

	st, _ := h.failedEnv(ErrTypeRejected)
	require.Equal(t, StateRollbackIncomplete, st.State)
	thread := th.all()
	last := thread[len(thread)-1]
	require.Contains(t, last, "production: rollback-incomplete")
	require.Contains(t, last, "LEFT deploy: the on-rollback hook POST "+h.srv.url("/undo/deploy"))
	require.Contains(t, last, "fix: `curl -X POST "+h.srv.url("/undo/deploy"))
}

// slackThread records the texts posted to gate threads by a fake Slack
// whose gate messages all land at C1/1.1.
type slackThread struct {
	mu    sync.Mutex
	texts []string
}

func fakeSlackThread(h *harness) *slackThread {
	th := &slackThread{}
	h.env.RegisterActivity(&slack.Activities{})
	h.env.OnActivity(slackActs.PostGate, mock.Anything, mock.Anything).Return(slack.PostGateResult{Channel: "C1", TS: "1.1"}, nil)
	h.env.OnActivity(slackActs.UpdateGate, mock.Anything, mock.Anything).Return(nil)
	h.env.OnActivity(slackActs.PostThread, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in slack.PostThreadInput) error {
			th.mu.Lock()
			defer th.mu.Unlock()
			th.texts = append(th.texts, in.Text)
			return nil
		})
	return th
}

func (th *slackThread) all() []string {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]string(nil), th.texts...)
}
