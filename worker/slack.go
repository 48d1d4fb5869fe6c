package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/slackin"
	"github.com/runbookhq/runbook/internal/sshsig"
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
func slackSetup(cfg Config, c client.Client, log audit.Store) (slackSide, error) {
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
	ids, err := parseIdentities("RUNBOOK_SLACK_USERS", cfg.SlackUsers)
	if err != nil {
		return slackSide{}, err
	}
	groups, err := parseIdentities("RUNBOOK_SLACK_GROUPS", cfg.SlackGroups)
	if err != nil {
		return slackSide{}, err
	}
	d := decider{c: c, ids: ids}
	if cfg.SlackSigningKey != "" {
		key, err := sshsig.SignerFromFile(cfg.SlackSigningKey)
		if err != nil {
			return slackSide{}, fmt.Errorf("RUNBOOK_SLACK_SIGNING_KEY: %w", err)
		}
		d.sign = &identity.SlackSigner{Key: key}
	} else {
		slog.Warn("slack: RUNBOOK_SLACK_SIGNING_KEY is not set, so Slack clicks go unsigned; environments that need " +
			"signed decisions (production by default) refuse them")
	}
	if len(groups) > 0 {
		d.groups = newGroupResolver(acts.Client, groups)
	}
	h, err := slackin.New(slackin.Config{
		SigningSecret: sec.SigningSecret, Slack: acts.Client, Identities: ids,
		Decider: d, Audit: auditRefusals(log),
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

// parseIdentities reads a SLACKID=name list such as RUNBOOK_SLACK_USERS
// ("U0123=alice,U0456=bob") or RUNBOOK_SLACK_GROUPS ("S0123=cab").
func parseIdentities(variable, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		id, name, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(id) == "" || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%s: %q is not SLACKID=name, e.g. U0123ABCD=alice or S0123ABCD=release-managers", variable, kv)
		}
		out[strings.TrimSpace(id)] = strings.TrimSpace(name)
	}
	return out, nil
}

// decider sends a click as the approve or reject Update to the environment
// run the button belongs to, so a click on an old message cannot decide a
// later run's gate. The Update's validator applies the same policy as for
// `runbook approve`; a refusal comes back as the error.
type decider struct {
	c client.Client
	// groups, when set, says which approver groups (group:NAME) the
	// clicking user is in, as Slack's user groups have it.
	groups *groupResolver
	// sign, when set, signs each click of a mapped user (ids) with the
	// worker's key, so signed environments accept Slack decisions.
	sign *identity.SlackSigner
	ids  map[string]string
}

func (d decider) Decide(ctx context.Context, k slackin.Click) (workflows.DecisionResult, error) {
	name := workflows.UpdateReject
	if k.Approve {
		name = workflows.UpdateApprove
	}
	in := workflows.DecisionInput{Gate: k.Gate, Actor: k.Actor, Comment: k.Reason, Channel: "slack"}
	if d.groups != nil {
		in.Groups = d.groups.groupsOf(ctx, k.SlackUserID)
	}
	// Only a mapped user is signed for, and only with the worker's key:
	// otherwise the click is sent unsigned, saying why, and a signed
	// environment refuses it with what to fix (the refusal is audited).
	mapped, ok := d.ids[k.SlackUserID]
	switch {
	case !ok:
		in.Unsigned = workflows.UnsignedUnmapped
	case d.sign == nil:
		in.Unsigned = workflows.UnsignedNoKey
	default:
		claim := workflows.DecisionClaim(k.EnvWorkflowID, k.EnvRunID, k.Approve, in)
		p, err := d.sign.SignFor(claim, k.SlackUserID, mapped)
		if err != nil {
			return workflows.DecisionResult{}, err
		}
		in.Proof = p
	}
	h, err := d.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: k.EnvWorkflowID, RunID: k.EnvRunID, UpdateName: name, UpdateID: "slack/" + k.DeliveryID,
		Args:         []any{in},
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
func auditRefusals(log audit.Store) func(context.Context, slackin.Click, string, error) {
	return func(ctx context.Context, k slackin.Click, outcome string, err error) {
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
		_, aerr := log.Append(ctx, audit.Entry{
			ID: "slack/" + k.DeliveryID, Time: time.Now().UTC(), Actor: k.Actor, Action: action,
			Release: k.ReleaseID, Step: k.Gate, Outcome: outcome, Detail: detail, Channel: "slack",
		})
		if aerr != nil {
			slog.Error("slack: audit write failed", "error", aerr)
		}
	}
}

// groupCacheTTL bounds how stale a group's membership may be: a person
// removed from a group in Slack loses its approvals within a minute.
const groupCacheTTL = time.Minute

// groupResolver tells which configured Slack user groups a user is in,
// asking Slack (usergroups.users.list) at most once a groupCacheTTL per group.
type groupResolver struct {
	slack *goslack.Client
	names map[string]string // Slack user group ID → runbook group name
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]groupMembers
}

type groupMembers struct {
	users []string
	at    time.Time
}

func newGroupResolver(c *goslack.Client, names map[string]string) *groupResolver {
	return &groupResolver{slack: c, names: names, now: time.Now, cache: map[string]groupMembers{}}
}

// groupsOf returns the runbook names of the groups user is in, sorted. A
// group Slack cannot list is left out: membership is never assumed.
func (g *groupResolver) groupsOf(ctx context.Context, user string) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(g.names)) {
		members, err := g.members(ctx, id)
		if err != nil {
			slog.Warn("slack: user group not readable; its members cannot decide as it", "group", id, "error", err)
			continue
		}
		if slices.Contains(members, user) {
			out = append(out, g.names[id])
		}
	}
	sort.Strings(out)
	return out
}

func (g *groupResolver) members(ctx context.Context, id string) ([]string, error) {
	g.mu.Lock()
	m, ok := g.cache[id]
	g.mu.Unlock()
	if ok && g.now().Sub(m.at) < groupCacheTTL {
		return m.users, nil
	}
	users, err := g.slack.GetUserGroupMembersContext(ctx, id)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.cache[id] = groupMembers{users: users, at: g.now()}
	g.mu.Unlock()
	return users, nil
}
