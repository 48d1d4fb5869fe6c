package releases

import (
	"context"
	"fmt"
	"time"

	"github.com/runbookhq/runbook/internal/dora"
	"github.com/runbookhq/runbook/workflows"
)

// DORA lists the service's finished releases and computes the metrics.
func (c *Client) DORA(ctx context.Context, service, env string, since, until time.Time) (dora.Metrics, error) {
	statuses, err := c.Finished(ctx, service, until)
	if err != nil {
		return dora.Metrics{}, err
	}
	return dora.Compute(service, env, since, until, statuses), nil
}

// Finished returns the final status of the service's releases that started
// before until and have ended (at most 1000, newest first).
func (c *Client) Finished(ctx context.Context, service string, until time.Time) ([]workflows.ReleaseStatus, error) {
	items, err := c.List(ctx, ListFilter{Service: service, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var statuses []workflows.ReleaseStatus
	for _, it := range items {
		if it.StartedAt.After(until) || !isFinalState(it.Status) {
			continue
		}
		st, ok := c.Finals.get(it.ReleaseID, it.StartedAt)
		if !ok {
			st, err = c.Wait(ctx, it.ReleaseID)
			if err != nil {
				return nil, fmt.Errorf("result of %s: %w", it.ReleaseID, err)
			}
			c.Finals.put(it.ReleaseID, it.StartedAt, st)
		}
		statuses = append(statuses, st)
	}
	return statuses, nil
}

// isFinalState reports whether a RunbookStatus value is a final state.
func isFinalState(s string) bool {
	return workflows.ReleaseStatus{State: s}.Finished()
}
