package alerts

import (
	"context"
	"fmt"
	"log/slog"

	goslack "github.com/slack-go/slack"
)

// note posts what an alert led to in the environment's Slack channel (the
// channel its gates go to), when the worker has Slack and the runbook a
// channel. It is best effort: the audit entry is the record, so a failed
// post is logged and the alert's handling goes on.
func (x *Acter) note(ctx context.Context, a Alert, t Target, sev string, o outcome) {
	if x.Slack == nil || t.Env.Slack == nil || t.Env.Slack.Channel == "" {
		return
	}
	text := fmt.Sprintf(":rotating_light: Alert *%s* (%s) on %s in %s: *%s*: %s", a.Name(), orNone(sev), t.Service, t.Environment, o.action, o.detail)
	if a.GeneratorURL != "" {
		text += fmt.Sprintf("\n<%s|source>", a.GeneratorURL)
	}
	text += fmt.Sprintf(" · fingerprint `%s`", a.Fingerprint)
	if _, _, err := x.Slack.PostMessageContext(ctx, t.Env.Slack.Channel, goslack.MsgOptionText(text, false)); err != nil {
		slog.Warn("alerts: Slack note not posted", "channel", t.Env.Slack.Channel, "fingerprint", a.Fingerprint, "error", err)
	}
}

func orNone(sev string) string {
	if sev == "" {
		return "no severity"
	}
	return sev
}
