package slackin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	goslack "github.com/slack-go/slack"

	slackacts "github.com/runbookhq/runbook/activities/slack"
)

// The reason dialog of Reject.
const (
	// CallbackReject is the callback_id of the reason dialog.
	CallbackReject = "runbook.reject"
	reasonBlock    = "reason"
	reasonAction   = "reason"
)

// dispatch processes one interaction whose origin is trusted (ServeHTTP
// checked its signature, or it came over the app's own Socket Mode
// websocket) and returns the answer Slack expects: nil for an empty
// acknowledgement, or the errors to show in the reason dialog. It never
// blocks on Slack or the Decider: decisions and dialogs run afterwards, and
// Wait waits for them. Types and actions that are not ours are acknowledged
// and ignored, so Slack shows no error.
func (h *Handler) dispatch(ic goslack.InteractionCallback) *goslack.ViewSubmissionResponse {
	switch ic.Type {
	case goslack.InteractionTypeBlockActions:
		h.blockAction(ic)
	case goslack.InteractionTypeViewSubmission:
		if ic.View.CallbackID == CallbackReject {
			return h.submitReject(ic)
		}
	}
	return nil
}

// writeAnswer writes dispatch's answer as an HTTP response: 200 with an empty
// body, or with the JSON of the view submission response.
func writeAnswer(w http.ResponseWriter, a *goslack.ViewSubmissionResponse) {
	if a == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a)
}

// blockAction handles a click on Approve or Reject: approve decides after the
// answer; reject opens the reason dialog after the answer.
func (h *Handler) blockAction(ic goslack.InteractionCallback) {
	for _, a := range ic.ActionCallback.BlockActions {
		if a.ActionID != slackacts.ActionApprove && a.ActionID != slackacts.ActionReject {
			continue
		}
		c, err := h.click(ic, a.Value)
		if err != nil {
			h.cfg.Logger.Warn("slack click with a bad button value", "user", ic.User.ID, "error", err)
			return
		}
		c.DeliveryID = clickKey(ic, a)
		if !h.seen.first(c.DeliveryID, h.cfg.Now()) {
			return
		}
		if a.ActionID == slackacts.ActionApprove {
			c.Approve = true
			h.background(DecideTimeout, func(ctx context.Context) { h.decide(ctx, c) })
			return
		}
		h.background(modalTimeout, func(ctx context.Context) { h.openReject(ctx, ic.TriggerID, c) })
		return
	}
}

// clickKey identifies one delivery of a click: Slack resends the same
// action_ts when it retries.
func clickKey(ic goslack.InteractionCallback, a *goslack.BlockAction) string {
	ts := a.ActionTs
	if ts == "" {
		ts = ic.ActionTs
	}
	if ts == "" {
		return "trigger:" + ic.TriggerID
	}
	return "click:" + ic.User.ID + ":" + ts
}

// click builds the Click of a button press from its routing value.
func (h *Handler) click(ic goslack.InteractionCallback, value string) (Click, error) {
	r, err := slackacts.DecodeRoute(value)
	if err != nil {
		return Click{}, err
	}
	ch := ic.Container.ChannelID
	if ch == "" {
		ch = ic.Channel.ID
	}
	ts := ic.Container.MessageTs
	if ts == "" {
		ts = ic.Message.Timestamp
	}
	return Click{
		SlackUserID: ic.User.ID, Actor: h.actor(ic.User.ID),
		ReleaseID: r.ReleaseID, EnvWorkflowID: r.EnvWorkflowID, EnvRunID: r.EnvRunID, Gate: r.Gate,
		Channel: ch, MessageTS: ts, ResponseURL: ic.ResponseURL,
	}, nil
}

// pending is the dialog's private_metadata: the click it completes, since a
// view_submission carries no channel or message of its own.
type pending struct {
	Route       slackacts.Route `json:"route"`
	Channel     string          `json:"c,omitempty"`
	MessageTS   string          `json:"m,omitempty"`
	ResponseURL string          `json:"u,omitempty"`
}

// openReject opens the dialog asking for the reason of a rejection.
func (h *Handler) openReject(ctx context.Context, triggerID string, c Click) {
	meta, _ := json.Marshal(pending{ // strings only: cannot fail
		Route:   slackacts.Route{ReleaseID: c.ReleaseID, EnvWorkflowID: c.EnvWorkflowID, EnvRunID: c.EnvRunID, Gate: c.Gate},
		Channel: c.Channel, MessageTS: c.MessageTS, ResponseURL: c.ResponseURL,
	})
	if _, err := h.cfg.Slack.OpenViewContext(ctx, triggerID, rejectModal(c, string(meta))); err != nil {
		h.cfg.Logger.Warn("slack: could not open the reject dialog", "user", c.SlackUserID, "release", c.ReleaseID, "error", err)
		h.tell(c, fmt.Sprintf("Could not open the reject dialog (%v). Try again, or run `runbook reject %s --gate %s --as %s --comment REASON`.",
			err, c.ReleaseID, c.Gate, c.Actor))
	}
}

// rejectModal asks for the reason; Slack enforces that it is not empty.
func rejectModal(c Click, meta string) goslack.ModalViewRequest {
	text := func(kind, s string) *goslack.TextBlockObject {
		return goslack.NewTextBlockObject(kind, s, false, false)
	}
	input := goslack.NewPlainTextInputBlockElement(text(goslack.PlainTextType, "What is wrong, and what should happen next?"), reasonAction)
	input.Multiline = true
	return goslack.ModalViewRequest{
		Type:            goslack.VTModal,
		CallbackID:      CallbackReject,
		PrivateMetadata: meta,
		Title:           text(goslack.PlainTextType, "Reject release"),
		Submit:          text(goslack.PlainTextType, "Reject"),
		Close:           text(goslack.PlainTextType, "Cancel"),
		Blocks: goslack.Blocks{BlockSet: []goslack.Block{
			goslack.NewSectionBlock(text(goslack.MarkdownType, fmt.Sprintf("Reject *%s* at gate *%s*? The release stops and rolls back.",
				esc(c.ReleaseID), esc(c.Gate))), nil, nil),
			goslack.NewInputBlock(reasonBlock, text(goslack.PlainTextType, "Reason"), nil, input),
		}},
	}
}

// submitReject takes the dialog's reason: an empty one is answered with an
// error on the field, the dialog staying open; otherwise the dialog closes
// and the rejection is decided after the answer.
func (h *Handler) submitReject(ic goslack.InteractionCallback) *goslack.ViewSubmissionResponse {
	c, err := h.rejection(ic)
	if err != nil {
		h.cfg.Logger.Warn("slack reject dialog with bad metadata", "user", ic.User.ID, "error", err)
		return nil
	}
	if c.Reason == "" {
		return goslack.NewErrorsViewSubmissionResponse(map[string]string{
			reasonBlock: "Say why you reject, so the requester knows what to fix.",
		})
	}
	c.DeliveryID = "trigger:" + ic.TriggerID
	if ic.TriggerID == "" {
		c.DeliveryID = "view:" + ic.View.ID + ":" + ic.View.Hash
	}
	if h.seen.first(c.DeliveryID, h.cfg.Now()) {
		h.background(DecideTimeout, func(ctx context.Context) { h.decide(ctx, c) })
	}
	return nil
}

// rejection builds the Click of a submitted reason dialog.
func (h *Handler) rejection(ic goslack.InteractionCallback) (Click, error) {
	var p pending
	if err := json.Unmarshal([]byte(ic.View.PrivateMetadata), &p); err != nil {
		return Click{}, err
	}
	if err := p.Route.Validate(); err != nil {
		return Click{}, err
	}
	if ic.View.State == nil {
		return Click{}, errors.New("dialog has no state")
	}
	reason := strings.TrimSpace(ic.View.State.Values[reasonBlock][reasonAction].Value)
	return Click{
		SlackUserID: ic.User.ID, Actor: h.actor(ic.User.ID), Reason: reason,
		ReleaseID: p.Route.ReleaseID, EnvWorkflowID: p.Route.EnvWorkflowID, EnvRunID: p.Route.EnvRunID, Gate: p.Route.Gate,
		Channel: p.Channel, MessageTS: p.MessageTS, ResponseURL: p.ResponseURL,
	}, nil
}

// esc escapes Slack's mrkdwn control characters.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
