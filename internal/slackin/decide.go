package slackin

import (
	"context"
	"errors"
	"fmt"

	goslack "github.com/slack-go/slack"

	"github.com/runbookhq/runbook/workflows"
)

// decide sends the click to the workflow and tells the person what came of
// it. Updating the gate message itself is the workflow's job (through
// activities/slack), so the message shows the same state as the workflow.
func (h *Handler) decide(ctx context.Context, c Click) {
	res, err := h.cfg.Decider.Decide(ctx, c)
	outcome := OutcomeDecided
	switch {
	case err == nil:
		h.tell(c, confirmation(c, res))
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		outcome = OutcomeFailed
		h.tell(c, fmt.Sprintf("runbook got no answer in time, so your decision may not have been recorded. Check with `runbook status %s`, then try again.", c.ReleaseID))
	default:
		outcome = OutcomeRefused
		h.tell(c, "Not recorded: "+err.Error())
	}
	h.cfg.Logger.Info("slack decision", "actor", c.Actor, "slack_user", c.SlackUserID, "release", c.ReleaseID,
		"gate", c.Gate, "approve", c.Approve, "outcome", outcome, "error", err)
	if h.cfg.Audit != nil {
		// A fresh deadline: Decide may have used up ctx.
		actx, cancel := context.WithTimeout(context.Background(), writeBackTimeout)
		defer cancel()
		h.cfg.Audit(actx, c, outcome, err)
	}
}

// confirmation tells the person what their decision did.
func confirmation(c Click, res workflows.DecisionResult) string {
	if !c.Approve {
		return fmt.Sprintf("You rejected gate %s of %s: %s", res.Gate, c.ReleaseID, c.Reason)
	}
	if res.GateState == workflows.StateApproved {
		return fmt.Sprintf("You approved gate %s of %s; it is approved (%d of %d) and the release goes on.", res.Gate, c.ReleaseID, res.Approvals, res.Needed)
	}
	return fmt.Sprintf("You approved gate %s of %s; %d of %d approvals so far.", res.Gate, c.ReleaseID, res.Approvals, res.Needed)
}

// tell posts an ephemeral message to the person who clicked, in the gate
// message's channel. It has its own deadline so a slow Decide cannot use up
// the time to answer.
func (h *Handler) tell(c Click, text string) {
	if c.Channel == "" || c.SlackUserID == "" {
		h.cfg.Logger.Warn("slack: nowhere to answer", "user", c.SlackUserID, "release", c.ReleaseID)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeBackTimeout)
	defer cancel()
	if _, err := h.cfg.Slack.PostEphemeralContext(ctx, c.Channel, c.SlackUserID, goslack.MsgOptionText(text, true)); err != nil {
		h.cfg.Logger.Warn("slack: could not answer", "user", c.SlackUserID, "channel", c.Channel, "error", err)
	}
}
