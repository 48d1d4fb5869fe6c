package slack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"
)

// Environment variables holding the bot token: the token itself, or the path
// of a file that holds it (a mounted secret). Never a flag, never history.
const (
	EnvBotToken     = "SLACK_BOT_TOKEN"
	EnvBotTokenFile = "SLACK_BOT_TOKEN_FILE"
)

// ErrNotConfigured is returned by New when no bot token is set, so the worker
// can run without Slack instead of failing.
var ErrNotConfigured = errors.New("slack is not configured: set " + EnvBotToken + " or " + EnvBotTokenFile + " on the worker")

// Activities posts and updates gate messages. Register it on the worker and
// call its methods from workflows through a typed nil *Activities.
type Activities struct {
	Client *goslack.Client
	// ReportLink, when set, is the address of a release's report on the
	// worker (a signed link), which the gate message links to. The worker
	// sets it when it serves reports and knows where people reach it; the
	// link is made here, in the activity, because only the worker holds
	// the token that signs it, and it never enters workflow history.
	ReportLink func(releaseID string) string
	// token is kept only to scrub it from errors.
	token string
}

// Options configure New.
type Options struct {
	// APIURL overrides Slack's API URL (with a trailing slash); tests point it
	// at slacktest.
	APIURL string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// New builds the activities with the bot token from SLACK_BOT_TOKEN or the
// file named by SLACK_BOT_TOKEN_FILE. It returns ErrNotConfigured when
// neither is set.
func New(opts Options) (*Activities, error) {
	token, err := LoadSecret(opts.Getenv, EnvBotToken)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, ErrNotConfigured
	}
	var co []goslack.Option
	if opts.APIURL != "" {
		co = append(co, goslack.OptionAPIURL(opts.APIURL))
	}
	return &Activities{Client: goslack.New(token, co...), token: token}, nil
}

// LoadSecret reads the secret in the environment variable name, or in the
// file named by name+"_FILE". Setting both is an error, so that nobody
// wonders which one is in use; neither gives "". Errors name the variable or
// the file, never the secret.
func LoadSecret(getenv func(string) string, name string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	direct, file := getenv(name), getenv(name+"_FILE")
	switch {
	case direct != "" && file != "":
		return "", fmt.Errorf("both %s and %s_FILE are set: unset one", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s_FILE: %s is empty", name, file)
		}
		return s, nil
	}
	return strings.TrimSpace(direct), nil
}

// PostGateInput is the message to post in a channel.
type PostGateInput struct {
	Channel string
	Message GateMessage
	// Key identifies this gate's message across the attempts of one PostGate
	// activity, since Slack has no idempotency key of its own. The workflow
	// passes a key that is stable for the gate and unique to it: GateKey
	// gives "<env workflow id>/<env run id>/<gate>". Empty means no
	// deduplication: a retry after a lost answer posts a second message.
	Key string
}

// PostGateResult identifies the posted message for later updates and for the
// thread of release progress.
type PostGateResult struct {
	Channel string
	TS      string
}

// PostGate posts the gate message. chat.postMessage has no idempotency key:
// if Slack stored the message but the answer was lost (timeout, worker
// crash), the activity's retry would post a second one and the lost one
// would keep live buttons. So a message posted with in.Key carries it as
// Slack message metadata (event type GateEventType), and a retry first looks
// in the channel's recent history for a message with that key and returns it
// instead of posting. The lookup needs the channels:history scope
// (groups:history for a private channel) besides chat:write. When Slack
// refuses or fails the lookup (missing_scope, not_in_channel, rate limit,
// outage) or the message is beyond the few pages searched, PostGate logs a
// warning and posts anyway: a duplicate gate is better than none, and clicks
// on a duplicate still go through the Update validator.
func (a *Activities) PostGate(ctx context.Context, in PostGateInput) (PostGateResult, error) {
	if err := a.check(in.Channel, in.Message); err != nil {
		return PostGateResult{}, err
	}
	opts := []goslack.MsgOption{
		goslack.MsgOptionText(Text(in.Message), true),
		goslack.MsgOptionBlocks(a.blocks(in.Message)...),
		goslack.MsgOptionDisableLinkUnfurl(),
	}
	if in.Key != "" {
		if res, ok := a.postedEarlier(ctx, in.Channel, in.Key); ok {
			return res, nil
		}
		opts = append(opts, goslack.MsgOptionMetadata(gateMetadata(in.Key)))
	}
	ch, ts, err := a.Client.PostMessageContext(ctx, in.Channel, opts...)
	if err != nil {
		return PostGateResult{}, a.classify("chat.postMessage", in.Channel, err)
	}
	return PostGateResult{Channel: ch, TS: ts}, nil
}

// UpdateGateInput names the message to replace and its new content.
type UpdateGateInput struct {
	Channel string
	TS      string
	Message GateMessage
}

// UpdateGate replaces the gate message in place: new approvals, or the
// outcome without buttons once the gate closed. It is idempotent.
func (a *Activities) UpdateGate(ctx context.Context, in UpdateGateInput) error {
	if err := a.check(in.Channel, in.Message); err != nil {
		return err
	}
	if in.TS == "" {
		return invalid("UpdateGate needs the TS that PostGate returned")
	}
	_, _, _, err := a.Client.UpdateMessageContext(ctx, in.Channel, in.TS,
		goslack.MsgOptionText(Text(in.Message), true),
		goslack.MsgOptionBlocks(a.blocks(in.Message)...))
	if err != nil {
		return a.classify("chat.update", in.Channel, err)
	}
	return nil
}

// PostThreadInput is one line of release progress for the gate's thread.
type PostThreadInput struct {
	Channel  string
	ThreadTS string
	Text     string
}

// PostThread posts a reply into the gate message's thread. Like PostGate, a
// retry after a lost answer may post the line twice.
func (a *Activities) PostThread(ctx context.Context, in PostThreadInput) error {
	if in.Channel == "" || in.ThreadTS == "" || in.Text == "" {
		return invalid("PostThread needs a channel, the thread's TS and a text")
	}
	if err := a.ready(); err != nil {
		return err
	}
	_, _, err := a.Client.PostMessageContext(ctx, in.Channel,
		goslack.MsgOptionText(in.Text, true),
		goslack.MsgOptionTS(in.ThreadTS),
		goslack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return a.classify("chat.postMessage", in.Channel, err)
	}
	return nil
}

// blocks renders m with the link to its release's report, if any.
func (a *Activities) blocks(m GateMessage) []goslack.Block {
	report := ""
	if a.ReportLink != nil && m.ReleaseID != "" {
		report = a.ReportLink(m.ReleaseID)
	}
	return BlocksWithReport(m, report)
}

// check refuses input that no retry can fix.
func (a *Activities) check(channel string, m GateMessage) error {
	if err := a.ready(); err != nil {
		return err
	}
	if channel == "" {
		return invalid("no Slack channel for environment " + m.Environment + ": set one in the runbook")
	}
	if m.State == StateWaiting {
		if err := RouteOf(m).Validate(); err != nil {
			return invalid("gate message: " + err.Error())
		}
	}
	return nil
}

func (a *Activities) ready() error {
	if a == nil || a.Client == nil {
		return temporal.NewNonRetryableApplicationError(ErrNotConfigured.Error(), ErrTypeInvalid, nil)
	}
	return nil
}
