package releases

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/workflows"
)

// triggerSeenTimeout bounds the wait for a triggered firing to show up in
// the schedule's recent actions.
const triggerSeenTimeout = 30 * time.Second

// TriggerSchedule fires a release schedule now and waits for that firing's
// outcome: the release it started, or why it skipped. A firing still
// running from before makes this one skip (the schedule never overlaps).
func (c *Client) TriggerSchedule(ctx context.Context, id string) (workflows.ScheduledReleaseResult, string, error) {
	if err := c.isReleaseSchedule(ctx, id); err != nil {
		return workflows.ScheduledReleaseResult{}, "", err
	}
	h := c.Temporal.ScheduleClient().GetHandle(ctx, id)
	before, err := c.recentRuns(ctx, h)
	if err != nil {
		return workflows.ScheduledReleaseResult{}, "", err
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP}); err != nil {
		return workflows.ScheduledReleaseResult{}, "", fmt.Errorf("trigger schedule %s: %w", id, err)
	}
	run, err := c.awaitNewRun(ctx, h, before)
	if err != nil {
		return workflows.ScheduledReleaseResult{}, "", err
	}
	var res workflows.ScheduledReleaseResult
	if err := c.Temporal.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &res); err != nil {
		return res, run.WorkflowID, fmt.Errorf("scheduled release %s failed: %s", run.WorkflowID, firstMessage(err))
	}
	return res, run.WorkflowID, nil
}

// recentRuns are the workflow IDs the schedule started recently.
func (c *Client) recentRuns(ctx context.Context, h client.ScheduleHandle) (map[string]bool, error) {
	d, err := h.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", h.GetID(), err)
	}
	seen := map[string]bool{}
	for _, a := range d.Info.RecentActions {
		if r := a.StartWorkflowResult; r != nil {
			seen[r.WorkflowID+"/"+r.FirstExecutionRunID] = true
		}
	}
	return seen, nil
}

// awaitNewRun polls the schedule until it shows a run not in before.
func (c *Client) awaitNewRun(ctx context.Context, h client.ScheduleHandle, before map[string]bool) (*client.ScheduleWorkflowExecution, error) {
	deadline := time.Now().Add(triggerSeenTimeout)
	for {
		d, err := h.Describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", h.GetID(), err)
		}
		for _, a := range d.Info.RecentActions {
			if r := a.StartWorkflowResult; r != nil && !before[r.WorkflowID+"/"+r.FirstExecutionRunID] {
				return r, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("schedule %s was triggered but started nothing within %s: a firing still running makes a trigger skip "+
				"(the schedule never overlaps); see `temporal schedule describe --schedule-id %s`", h.GetID(), triggerSeenTimeout, h.GetID())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// firstMessage is the sentence the failing activity wrote for people: the
// first application error's message (its causes may be bare OS errors).
func firstMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return rootCause(err)
}
