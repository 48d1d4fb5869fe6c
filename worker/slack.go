package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/slackin"
	"github.com/runbookhq/runbook/workflows"
)

// DefaultSlackHTTPAddr is where the worker serves Slack interactions when
// Slack is configured and RUNBOOK_HTTP_ADDR is not set.
const DefaultSlackHTTPAddr = "127.0.0.1:8088"

// slackSide is the worker's Slack: the activities that post and edit gate
// messages, and the interactions handler with the app token Socket Mode
// needs (empty without Socket Mode).
type slackSide struct {
	acts         *slack.Activities
	interactions *slackin.Handler
	appToken     string
}

// slackSetup builds the Slack activities and, when Slack is configured
// (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or their _FILE variants), the
// interactions handler. Without a bot token the activities still register
// and fail without retry, so a runbook that names a channel says what is
// missing instead of waiting for a worker that can post.
func slackSetup(cfg Config, c client.Client, log *audit.Log) (slackSide, error) {
	acts, err := slack.New(slack.Options{APIURL: cfg.SlackAPIURL})
	if errors.Is(err, slack.ErrNotConfigured) {
		return slackSide{acts: &slack.Activities{}}, nil
	}
	if err != nil {
		return slackSide{}, err
	}
	sec, err := slackin.LoadSecrets(nil)
	if err != nil {
		return slackSide{}, err
	}
	if cfg.SlackSocketMode && sec.AppToken == "" {
		return slackSide{}, fmt.Errorf("--slack-socket-mode needs the app-level token: set %s (xapp-...) or %s", slackin.EnvAppToken, slackin.EnvAppTokenFile)
	}
	ids, err := parseIdentities(cfg.SlackUsers)
	if err != nil {
		return slackSide{}, err
	}
	h, err := slackin.New(slackin.Config{
		SigningSecret: sec.SigningSecret, Slack: acts.Client, Identities: ids,
		Decider: decider{c: c}, Audit: auditRefusals(log),
	})
	side := slackSide{acts: acts, interactions: h}
	if cfg.SlackSocketMode {
		side.appToken = sec.AppToken
	}
	return side, err
}

// runSocketMode receives interactions over Slack's Socket Mode until ctx
// ends, for teams without a public URL for POST /slack/interactions.
func (s slackSide) runSocketMode(ctx context.Context, cfg Config) {
	var opts []slackin.SocketOption
	if cfg.SlackAPIURL != "" {
		opts = append(opts, slackin.SocketAPIURL(cfg.SlackAPIURL))
	}
	slog.Info("slack: receiving interactions over Socket Mode")
	if err := s.interactions.RunSocketMode(ctx, s.appToken, opts...); err != nil {
		slog.Error("slack: Socket Mode stopped", "error", err)
	}
}

// parseIdentities reads RUNBOOK_SLACK_USERS: "U0123=alice,U0456=bob".
func parseIdentities(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		id, name, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(id) == "" || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("RUNBOOK_SLACK_USERS: %q is not SLACKID=name, e.g. U0123ABCD=alice", kv)
		}
		out[strings.TrimSpace(id)] = strings.TrimSpace(name)
	}
	return out, nil
}

// decider sends a click as the approve or reject Update to the environment
// run the button belongs to, so a click on an old message cannot decide a
// later run's gate. The Update's validator applies the same policy as for
// `runbook approve`; a refusal comes back as the error.
type decider struct{ c client.Client }

func (d decider) Decide(ctx context.Context, k slackin.Click) (workflows.DecisionResult, error) {
	name := workflows.UpdateReject
	if k.Approve {
		name = workflows.UpdateApprove
	}
	h, err := d.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: k.EnvWorkflowID, RunID: k.EnvRunID, UpdateName: name, UpdateID: "slack/" + k.DeliveryID,
		Args:         []any{workflows.DecisionInput{Gate: k.Gate, Actor: k.Actor, Comment: k.Reason, Channel: "slack"}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res workflows.DecisionResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	return res, err
}

// auditRefusals records the Slack clicks that never reached a workflow (the
// workflow audits the others itself, with channel slack).
func auditRefusals(log *audit.Log) func(context.Context, slackin.Click, string, error) {
	return func(_ context.Context, k slackin.Click, outcome string, err error) {
		if outcome == slackin.OutcomeDecided {
			return
		}
		action := "gate.approve-refused"
		if !k.Approve {
			action = "gate.reject-refused"
		}
		detail := outcome
		if err != nil {
			detail += ": " + err.Error()
		}
		_, aerr := log.Append(audit.Entry{
			ID: "slack/" + k.DeliveryID, Time: time.Now().UTC(), Actor: k.Actor, Action: action,
			Release: k.ReleaseID, Step: k.Gate, Outcome: outcome, Detail: detail, Channel: "slack",
		})
		if aerr != nil {
			slog.Error("slack: audit write failed", "error", aerr)
		}
	}
}
