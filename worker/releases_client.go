package worker

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/releases"
)

// ReleasesClient is the release client on c for cfg's namespace, task queue
// and Web UI: the one place its fields are filled in, so the CLI, the demo
// and the worker's own DORA gauges talk to the same workflows the same way.
// signer signs decisions; nil sends them unsigned.
func ReleasesClient(c client.Client, cfg Config, signer identity.Signer) *releases.Client {
	return &releases.Client{Temporal: c, Namespace: cfg.Client.Namespace, TaskQueue: cfg.TaskQueue, UIURL: cfg.UIURL, Signer: signer,
		DataConverter: cfg.DataConverter()}
}

// DialReleases connects as cfg says and returns the release client and the
// function that closes its connection.
func DialReleases(ctx context.Context, cfg Config, signer identity.Signer) (*releases.Client, func(), error) {
	c, err := Dial(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return ReleasesClient(c, cfg, signer), c.Close, nil
}
