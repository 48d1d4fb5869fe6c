package releases

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/workflows"
)

// TrainWait blocks until the train ends and returns its final status from
// the closed workflow's result (or the failure's details), which needs no
// worker: a report of last month's train reads it so.
func (c *Client) TrainWait(ctx context.Context, id string) (workflows.TrainStatus, error) {
	var st workflows.TrainStatus
	err := c.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &st)
	if err == nil {
		return st, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		var fin workflows.TrainStatus
		if appErr.Details(&fin) == nil && fin.TrainID != "" {
			return fin, nil
		}
	}
	// Terminated, timed out or cancelled without our details: ask the query.
	if q, qerr := c.TrainStatus(ctx, id); qerr == nil {
		if !q.Finished() {
			q.State, q.Reason = workflows.StateFailed, err.Error()
		}
		return q, nil
	}
	return workflows.TrainStatus{}, fmt.Errorf("train %s: %w", id, err)
}
