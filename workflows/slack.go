package workflows

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/slack"
)

var slackActs *slack.Activities

// slackCtx runs Slack calls: best effort, a few attempts, never long. A
// Slack outage must not hold or fail a release; `runbook approve` and the Web
// UI remain open channels.
func slackCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, MaximumInterval: 20 * time.Second, MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{slack.ErrTypeInvalid},
		},
		Summary: summary,
	})
}

// slackGateOpened posts the gate's message to the environment's channel and
// remembers where it is, so later changes edit it in place.
func (e *environment) slackGateOpened(ctx workflow.Context, st *StepStatus) {
	if e.in.Env.Slack == nil {
		return
	}
	g := st.Gate
	e.previewChanges(ctx, g.Name)
	var res slack.PostGateResult
	msg := e.gateMessage(g)
	// The key lets a retry find the message a lost answer posted instead
	// of posting a second one with live buttons.
	if e.truthful {
		// An abort while the post is on its way must not orphan the
		// message: it is recorded whatever happens to the gate, so the
		// gate's close can take its buttons away.
		ctx, _ = workflow.NewDisconnectedContext(ctx)
	}
	err := workflow.ExecuteActivity(slackCtx(ctx, "post gate "+g.Name+" to Slack"), slackActs.PostGate,
		slack.PostGateInput{Channel: e.in.Env.Slack.Channel, Message: msg, Key: slack.GateKey(msg)}).Get(ctx, &res)
	if err != nil {
		e.log.Warn("gate not posted to Slack", "gate", g.Name, "error", err)
		return
	}
	g.SlackChannel, g.SlackTS = res.Channel, res.TS
	if e.thread.ts == "" {
		e.thread.channel, e.thread.ts = res.Channel, res.TS
	}
}

// slackProgress posts a line of the environment's progress into the thread
// of its first gate message (nothing before a gate was posted).
func (e *environment) slackProgress(ctx workflow.Context, text string) {
	if e.in.Env.Slack == nil || e.thread.ts == "" {
		return
	}
	e.flushAudit(ctx) // what it tells is on record first
	e.slackThreadOf(ctx, e.thread.channel, e.thread.ts, text)
}

// slackThreadOf posts text into the thread of the message at channel, ts.
func (e *environment) slackThreadOf(ctx workflow.Context, channel, ts, text string) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.ExecuteActivity(slackCtx(ctx, "thread reply to Slack"), slackActs.PostThread,
		slack.PostThreadInput{Channel: channel, ThreadTS: ts, Text: strings.TrimSpace(text)}).Get(ctx, nil)
	if err != nil {
		e.log.Warn("thread reply not posted to Slack", "error", err)
	}
}

// slackGateChanged edits the gate's message: approvals so far, or who
// closed it and how (the buttons disappear).
func (e *environment) slackGateChanged(ctx workflow.Context, g *GateStatus) {
	if e.in.Env.Slack == nil || g.SlackTS == "" {
		return
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.ExecuteActivity(slackCtx(ctx, "update gate "+g.Name+" in Slack"), slackActs.UpdateGate,
		slack.UpdateGateInput{Channel: g.SlackChannel, TS: g.SlackTS, Message: e.gateMessage(g)}).Get(ctx, nil)
	if err != nil {
		e.log.Warn("gate message not updated in Slack", "gate", g.Name, "error", err)
	}
}

// gateMessage is what the Slack message of gate g shows.
func (e *environment) gateMessage(g *GateStatus) slack.GateMessage {
	m := slack.GateMessage{
		ReleaseID: e.in.ReleaseID, Service: e.in.Service, Version: e.in.Version, Environment: e.in.Env.Name,
		Requester: e.requester(), Gate: g.Name, Instructions: g.Instructions, Approvers: g.Approvers,
		MinApprovals: g.MinApprovals, State: g.State, Deadline: g.Deadline, UILink: e.releaseLink(),
		EnvWorkflowID: e.status.WorkflowID, EnvRunID: e.status.RunID,
		Flags: e.flags(), Build: e.in.Build.String(),
	}
	for _, d := range g.Approvals {
		m.Approvals = append(m.Approvals, slack.Approval{Actor: d.Actor, At: d.At})
	}
	if g.Rejection != nil {
		m.Rejection = &slack.Approval{Actor: g.Rejection.Actor, At: g.Rejection.At}
		m.Reason = g.Rejection.Comment
	}
	if e.preview != nil {
		m.Changes, m.Migrations = e.preview.changes, e.preview.migrations
	}
	if len(e.in.Env.SLOs) > 0 && e.in.RunbookFile != "" {
		m.SLOCheck = fmt.Sprintf("runbook slo check %s --env %s", e.in.RunbookFile, e.in.Env.Name)
	}
	return m
}

// changePreview is what an approver of a Slack gate sees will change.
type changePreview struct {
	changes, migrations []string
}

// previewChanges works out, once, what the provision and migrate steps after
// gate will do: a plan of the environment's module (not applied; the step
// plans again) and the pending migrations with their class. A preview that
// fails says so in the message; it never holds the gate.
func (e *environment) previewChanges(ctx workflow.Context, gate string) {
	if e.preview != nil {
		return
	}
	e.preview = &changePreview{}
	after := false
	for _, p := range e.plan {
		if p.step.Name == gate {
			after = true
			continue
		}
		if !after || e.stepDone(p.step.Name) {
			continue
		}
		if pv, ok := p.kind.(previewer); ok {
			pv.gatePreview(ctx, e, p.step, e.preview)
		}
	}
}

// stepDone reports whether the named step already ran.
func (e *environment) stepDone(name string) bool {
	for _, s := range e.status.Steps {
		if s.Name == name {
			return s.State != StatePending && s.State != StateWaiting && s.State != StateRunning
		}
	}
	return false
}

// releaseLink is the release's page in the Web UI, or "" without a UI URL.
func (e *environment) releaseLink() string {
	if e.in.UIURL == "" {
		return ""
	}
	return strings.TrimRight(e.in.UIURL, "/") + "/namespaces/" + url.PathEscape(e.namespace) +
		"/workflows/" + url.PathEscape(e.in.ReleaseID)
}

// slackRemind posts the gate's one reminder into its message's thread.
func (e *environment) slackRemind(ctx workflow.Context, g *GateStatus) {
	who := "anyone but the requester"
	if len(g.Approvers) > 0 {
		who = strings.Join(g.Approvers, ", ")
	}
	e.slackThreadOf(ctx, g.SlackChannel, g.SlackTS, fmt.Sprintf("Reminder: gate %s is still waiting for %d approval(s) from %s, until %s.",
		g.Name, g.MinApprovals-len(g.Approvals), who, g.Deadline.UTC().Format(time.RFC3339)))
}
