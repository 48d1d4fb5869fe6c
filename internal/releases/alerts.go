package releases

import (
	"context"

	"github.com/runbookhq/runbook/workflows"
)

// Input is the input release id was started with, read from its history:
// the runbook that ran, which the alert handler (internal/alerts) reads
// each environment's watch-after and on-alert from.
func (c *Client) Input(ctx context.Context, id string) (workflows.ReleaseInput, error) {
	return c.releaseInput(ctx, NormalizeID(id))
}
