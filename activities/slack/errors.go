package slack

import (
	"errors"
	"fmt"
	"strings"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"
)

// Error types of the activities' application errors, visible in the Web UI.
const (
	// ErrTypeInvalid: retrying cannot help; the message says what to fix.
	ErrTypeInvalid = "SlackInvalid"
	// ErrTypeRateLimited: Slack asked to slow down; the retry waits as long
	// as Slack said.
	ErrTypeRateLimited = "SlackRateLimited"
	// ErrTypeUnavailable: Slack or the network failed; retried.
	ErrTypeUnavailable = "SlackUnavailable"
)

// transientCodes are Slack API error codes worth a retry.
var transientCodes = map[string]bool{
	"ratelimited": true, "internal_error": true, "fatal_error": true,
	"service_unavailable": true, "request_timeout": true,
}

// classify turns a Slack client error into an application error: known
// permanent failures stop the activity with a sentence saying what to fix;
// everything else is retried under the workflow's retry policy.
func (a *Activities) classify(method, channel string, err error) error {
	var rl *goslack.RateLimitedError
	if errors.As(err, &rl) {
		return temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("%s: Slack rate limit, retrying after %s", method, rl.RetryAfter),
			ErrTypeRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: rl.RetryAfter})
	}
	var se goslack.SlackErrorResponse
	if errors.As(err, &se) && !transientCodes[se.Err] {
		if fix := fixFor(se, channel); fix != "" {
			return invalid(fmt.Sprintf("%s: %s (%s)", method, fix, se.Err))
		}
	}
	// Unknown failures carry the client's text without the cause, scrubbed:
	// the error ends up in workflow history.
	return temporal.NewApplicationError(a.scrub(fmt.Sprintf("%s: %v", method, err)), ErrTypeUnavailable)
}

// fixFor says what to do about a permanent Slack error, or "" when the code
// is not known to be permanent.
func fixFor(se goslack.SlackErrorResponse, channel string) string {
	switch se.Err {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return "Slack refused the bot token: set " + EnvBotToken + " (or " + EnvBotTokenFile + ") on the worker to the app's valid xoxb- token and restart it"
	case "missing_scope", "no_permission":
		need := "chat:write"
		if se.Needed != "" {
			need = se.Needed
		}
		return "the Slack app lacks a permission (needs " + need + "): add the scope in the app's OAuth settings and reinstall it"
	case "channel_not_found":
		return fmt.Sprintf("channel %q not found: check the environment's Slack channel in the runbook (use the channel ID; for a private channel, invite the app first)", channel)
	case "not_in_channel":
		return fmt.Sprintf("the Slack app is not a member of channel %q: invite it there with /invite", channel)
	case "is_archived":
		return fmt.Sprintf("channel %q is archived: pick another channel in the runbook", channel)
	case "message_not_found", "cant_update_message", "edit_window_closed":
		return "the gate message can no longer be updated (deleted, or not posted by this app)"
	case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments", "no_text":
		return "Slack refused the message layout; this is a runbook bug, please report it with the error code"
	}
	return ""
}

func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalid, nil)
}

// scrub removes the bot token from a message. slack-go sends the token in a
// header, so it should never be there; this keeps it that way if that changes.
func (a *Activities) scrub(s string) string {
	if a.token == "" {
		return s
	}
	return strings.ReplaceAll(s, a.token, "[redacted]")
}
