package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/activity"
)

// GateEventType is the Slack message metadata event type of gate messages;
// their event payload holds the gate's key under "key". Both are a wire
// contract with messages already posted: never rename them.
const GateEventType = "runbook_gate"

const gateKeyField = "key"

// Bounds of the search for a message posted by an earlier attempt.
const (
	// maxLookBack caps how far before the current attempt's start the
	// search reaches when the activity has no shorter ScheduleToClose.
	maxLookBack = time.Hour
	// clockSkew covers the difference between Temporal's clock, which
	// dates the activity, and Slack's, which dates the message.
	clockSkew = 2 * time.Minute
	// historyPageSize and historyMaxPages bound the cost of the search in a
	// busy channel; the message is usually on the first page, newest first.
	historyPageSize = 100
	historyMaxPages = 3
)

// GateKey is the key the workflow should pass in PostGateInput.Key: stable
// across retries and replays, and distinct for every gate of every run.
// It is pure, so workflow code may call it.
func GateKey(m GateMessage) string {
	return m.EnvWorkflowID + "/" + m.EnvRunID + "/" + m.Gate
}

func gateMetadata(key string) goslack.SlackMetadata {
	return goslack.SlackMetadata{EventType: GateEventType, EventPayload: map[string]any{gateKeyField: key}}
}

// isGate reports whether m is the gate message posted with key.
func isGate(m goslack.Message, key string) bool {
	if m.Metadata.EventType != GateEventType {
		return false
	}
	k, _ := m.Metadata.EventPayload[gateKeyField].(string)
	return k == key
}

// postedEarlier returns the message an earlier attempt of this activity
// posted with key, if Slack shows it.
//
// Only retries look: a first attempt has no predecessor, and
// conversations.history is among Slack's most tightly rate-limited methods
// (one call a minute for apps outside the Marketplace), so the common path
// stays a single chat.postMessage. A timed-out or crashed attempt is
// retried with a higher attempt number, so that is the case covered. A
// failed lookup is logged and reported as not found: posting a duplicate
// is better than leaving the gate without a message.
func (a *Activities) postedEarlier(ctx context.Context, channel, key string) (PostGateResult, bool) {
	if !activity.IsActivity(ctx) {
		return PostGateResult{}, false
	}
	info := activity.GetInfo(ctx)
	if info.Attempt <= 1 {
		return PostGateResult{}, false
	}
	log := activity.GetLogger(ctx)
	ts, found, err := a.findGate(ctx, channel, key, searchFrom(info))
	switch {
	case err != nil:
		log.Warn("PostGate: cannot look for the gate message an earlier attempt may have posted; posting it, which may duplicate it",
			"Channel", channel, "Key", key, "Attempt", info.Attempt, "Error", err, "Fix", lookupFix(err, channel))
		return PostGateResult{}, false
	case !found:
		log.Info("PostGate: no gate message from an earlier attempt; posting it",
			"Channel", channel, "Key", key, "Attempt", info.Attempt)
		return PostGateResult{}, false
	}
	log.Info("PostGate: found the gate message an earlier attempt posted; not posting again",
		"Channel", channel, "Key", key, "Attempt", info.Attempt, "TS", ts)
	return PostGateResult{Channel: channel, TS: ts}, true
}

// searchFrom is the oldest time the first attempt can have posted at.
// ScheduledTime is the first attempt's scheduling when the server sends it
// (the ActivityTaskScheduled event's time); should it ever be the current
// attempt's, the first attempt still started no earlier than
// ScheduleToClose before this one. maxLookBack caps both.
func searchFrom(info activity.Info) time.Time {
	now := info.StartedTime
	if now.IsZero() {
		now = time.Now()
	}
	from := info.ScheduledTime
	if s2c := info.ScheduleToCloseTimeout; s2c > 0 && s2c < maxLookBack {
		if t := now.Add(-s2c); from.IsZero() || t.Before(from) {
			from = t
		}
	}
	if limit := now.Add(-maxLookBack); from.IsZero() || from.Before(limit) {
		from = limit
	}
	return from.Add(-clockSkew)
}

// findGate pages through the channel's messages since oldest, newest first,
// for the one whose metadata carries key.
func (a *Activities) findGate(ctx context.Context, channel, key string, oldest time.Time) (ts string, found bool, err error) {
	p := &goslack.GetConversationHistoryParameters{
		ChannelID: channel, Oldest: slackTS(oldest), Limit: historyPageSize, IncludeAllMetadata: true,
	}
	for range historyMaxPages {
		res, err := a.Client.GetConversationHistoryContext(ctx, p)
		if err != nil {
			return "", false, err
		}
		for _, m := range res.Messages {
			if isGate(m, key) {
				return m.Timestamp, true, nil
			}
		}
		if !res.HasMore || res.ResponseMetaData.NextCursor == "" {
			return "", false, nil
		}
		p.Cursor = res.ResponseMetaData.NextCursor
	}
	return "", false, fmt.Errorf("%w: searched the newest %d since %s", errSearchBounded, historyPageSize*historyMaxPages, oldest.UTC().Format(time.RFC3339))
}

// errSearchBounded: the channel had more recent messages than findGate reads.
var errSearchBounded = errors.New("too many messages in the channel to search")

// slackTS renders t as a Slack timestamp.
func slackTS(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// lookupFix says how to make the lookup work, for the warning.
func lookupFix(err error, channel string) string {
	var rl *goslack.RateLimitedError
	var se goslack.SlackErrorResponse
	switch {
	case errors.Is(err, errSearchBounded):
		return "none; if Slack now shows the gate twice, delete the older message"
	case errors.As(err, &rl):
		return "none; Slack rate-limits conversations.history, if Slack now shows the gate twice, delete the older message"
	case !errors.As(err, &se):
		return "none if Slack was briefly unavailable"
	}
	switch se.Err {
	case "missing_scope", "no_permission":
		return "add the channels:history scope (groups:history for a private channel) in the Slack app's OAuth settings and reinstall it"
	case "not_in_channel", "channel_not_found":
		return fmt.Sprintf("invite the app to channel %q and set the channel's ID, not its name, in the runbook", channel)
	}
	if fix := fixFor(se, channel); fix != "" {
		return fix
	}
	return "check the Slack error code"
}
