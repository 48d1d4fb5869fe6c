package workflows

import (
	"fmt"
	"net/url"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/slack"
)

// The train's Slack: each train gate is posted to the train's channel
// with Approve and Reject buttons that send the same Update `runbook train
// approve` sends (the worker's Slack endpoint signs for mapped users as for
// any gate), and the train's progress goes into the thread of its first
// gate message. Best effort, like every Slack call: `runbook train approve`
// stays open when Slack is not.

// slackGateOpened posts train gate g of environment env.
func (t *train) slackGateOpened(ctx workflow.Context, env string, g *GateStatus) {
	if t.in.Slack == nil {
		return
	}
	msg := t.gateMessage(env, g)
	var res slack.PostGateResult
	err := workflow.ExecuteActivity(slackCtx(ctx, "post train gate "+g.Name+" to Slack"), slackActs.PostGate,
		slack.PostGateInput{Channel: t.in.Slack.Channel, Message: msg, Key: slack.GateKey(msg)}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("train gate not posted to Slack", "gate", g.Name, "error", err)
		return
	}
	g.SlackChannel, g.SlackTS = res.Channel, res.TS
	if t.thread == nil {
		t.thread = &GateStatus{SlackChannel: res.Channel, SlackTS: res.TS}
	}
}

// slackGateChanged edits gate g's message: approvals so far, or the outcome.
func (t *train) slackGateChanged(ctx workflow.Context, env string, g *GateStatus) {
	if t.in.Slack == nil || g.SlackTS == "" {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.ExecuteActivity(slackCtx(ctx, "update train gate "+g.Name+" in Slack"), slackActs.UpdateGate,
		slack.UpdateGateInput{Channel: g.SlackChannel, TS: g.SlackTS, Message: t.gateMessage(env, g)}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("train gate not updated in Slack", "gate", g.Name, "error", err)
	}
}

// slackProgress posts a line of the train's progress into its thread.
func (t *train) slackProgress(ctx workflow.Context, text string) {
	if t.in.Slack == nil || t.thread == nil {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.ExecuteActivity(slackCtx(ctx, "train progress to Slack"), slackActs.PostThread,
		slack.PostThreadInput{Channel: t.thread.SlackChannel, ThreadTS: t.thread.SlackTS, Text: text}).Get(ctx, nil)
	if err != nil {
		workflow.GetLogger(ctx).Warn("train progress not posted to Slack", "error", err)
	}
}

// gateMessage is the Slack message of train gate g: the train as the
// "service", its services and versions as the first line.
func (t *train) gateMessage(env string, g *GateStatus) slack.GateMessage {
	info := t.status.TrainID
	m := slack.GateMessage{
		ReleaseID: info, Service: "train " + t.in.Train, Version: t.in.Name, Environment: env,
		Requester: t.in.Requester, Gate: g.Name, Instructions: g.Instructions, Approvers: g.Approvers,
		MinApprovals: g.MinApprovals, State: g.State, Deadline: g.Deadline, UILink: t.link(),
		EnvWorkflowID: t.status.TrainID, EnvRunID: t.runID,
		Flags: []string{"TRAIN: " + t.services(env)},
	}
	for _, d := range g.Approvals {
		m.Approvals = append(m.Approvals, slack.Approval{Actor: d.Actor, At: d.At})
	}
	if g.Rejection != nil {
		m.Rejection = &slack.Approval{Actor: g.Rejection.Actor, At: g.Rejection.At}
		m.Reason = g.Rejection.Comment
	}
	return m
}

// services lists the train's services in env with their versions.
func (t *train) services(env string) string {
	var parts []string
	for _, s := range t.in.Services {
		if hasEnvironment(s.Release.Runbook, env) {
			parts = append(parts, fmt.Sprintf("%s %s", s.Name, s.Release.Version))
		}
	}
	return strings.Join(parts, ", ")
}

// link is the train in the Web UI.
func (t *train) link() string {
	if t.in.UIURL == "" {
		return ""
	}
	return strings.TrimRight(t.in.UIURL, "/") + "/namespaces/" + url.PathEscape(t.namespace) +
		"/workflows/" + url.PathEscape(t.status.TrainID)
}
