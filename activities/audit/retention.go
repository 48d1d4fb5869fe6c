package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// retentionEvery is how often the worker applies its retention.
const retentionEvery = 24 * time.Hour

// StartRetention prunes the entries of s older than keep now and then daily,
// until ctx ends or the returned stop is called; stop waits for a prune in
// progress, so call it before closing s. A failed prune is logged and tried
// again the next day: retention is housekeeping, and no release waits for it.
func StartRetention(ctx context.Context, s Store, keep time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ticker := time.NewTicker(retentionEvery)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runRetention(ctx, s, keep, ticker.C, time.Now, logPrune(s, keep))
	}()
	return func() {
		cancel()
		ticker.Stop()
		<-done
	}
}

// runRetention prunes once, then once per tick, reporting each outcome.
func runRetention(ctx context.Context, s Store, keep time.Duration, ticks <-chan time.Time, now func() time.Time, report func(PruneResult, error)) {
	for {
		report(PruneOlderThan(ctx, s, keep, now()))
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// PruneOlderThan prunes the entries older than keep before now, recording
// the retention as the reason, with actor "runbook".
func PruneOlderThan(ctx context.Context, s Store, keep time.Duration, now time.Time) (PruneResult, error) {
	return s.Prune(ctx, PruneInput{Before: now.Add(-keep), Now: now, Actor: "runbook", Reason: "retention " + FormatRetention(keep)})
}

// FormatRetention writes keep in days when it is whole days, as people set it.
func FormatRetention(keep time.Duration) string {
	if day := 24 * time.Hour; keep%day == 0 {
		return fmt.Sprintf("%dd", keep/day)
	}
	return keep.String()
}

// logPrune reports a retention run in the worker's log.
func logPrune(s Store, keep time.Duration) func(PruneResult, error) {
	return func(res PruneResult, err error) {
		switch {
		case err != nil:
			slog.Error("audit retention: prune failed; it is tried again tomorrow, run `runbook audit verify` if the chain is broken",
				"log", s.String(), "retention", FormatRetention(keep), "error", err)
		case res.Removed > 0:
			slog.Info("audit retention: "+res.Summary(), "log", s.String())
		}
	}
}
