package worker

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/releases"
)

// freezesCheckEvery is how often a worker makes sure the Freezes workflow
// runs. A closed run still answers queries, so its freezes hold releases
// meanwhile; the check keeps a cancel or terminate from outliving the
// namespace's retention, after which the closed run and its freezes would
// be gone.
const freezesCheckEvery = 5 * time.Minute

// freezesActor is who the audit log says restarted the Freezes workflow.
const freezesActor = "runbook"

// keepFreezes restarts the namespace's Freezes workflow with its state
// whenever its latest run has closed (cancelled, terminated, failed): once
// now, then every freezesCheckEvery, until ctx ends. stop waits for it.
func keepFreezes(ctx context.Context, c client.Client, namespace string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ticker := time.NewTicker(freezesCheckEvery)
	done := make(chan struct{})
	rc := &releases.Client{Temporal: c, Namespace: namespace}
	go func() {
		defer close(done)
		for {
			restoreFreezes(ctx, rc)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() {
		cancel()
		ticker.Stop()
		<-done
	}
}

// restoreFreezes restarts a closed Freezes workflow and says so; when its
// freezes cannot be read back it logs what to do, every check, since the
// freezes are then unreadable for releases too.
func restoreFreezes(ctx context.Context, rc *releases.Client) {
	b, err := rc.DescribeFreezes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			slog.Warn("could not look at the Freezes workflow", "error", err)
		}
		return
	}
	if !b.Exists || b.Running {
		return
	}
	res, err := rc.RestoreFreezes(ctx, releases.RestoreInput{Actor: freezesActor})
	switch {
	case err != nil && ctx.Err() == nil:
		slog.Error("the Freezes workflow ended and could not be restarted with its freezes", "ended", b.Closed(), "error", err)
	case err == nil && !res.AlreadyRunning:
		slog.Info("restarted the Freezes workflow with its freezes", "ended", b.Closed(), "run_id", res.RunID,
			"freezes", res.Freezes, "active", res.Active)
	}
}
