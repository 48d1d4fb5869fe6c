package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// Releases is the part of releases.Client a report reads.
type Releases interface {
	// Status asks the release (needs a worker to answer the query).
	Status(ctx context.Context, id string) (workflows.ReleaseStatus, error)
	// Wait returns a finished release's final status from its result,
	// which needs no worker.
	Wait(ctx context.Context, id string) (workflows.ReleaseStatus, error)
}

// resultWait bounds the fallback read of a release's result: a release
// that still runs would make Wait block.
const resultWait = 5 * time.Second

// Gather reads release id back from Temporal and the audit log and builds
// its report. A finished release is read from its result when no worker
// answers the status query, so a report of last month's release needs no
// worker. A log that does not verify still gives a report, with the
// break in its warnings and evidence.
func Gather(ctx context.Context, rs Releases, log audit.Reader, id string, now time.Time) (Report, error) {
	st, err := rs.Status(ctx, id)
	if err != nil {
		wctx, cancel := context.WithTimeout(ctx, resultWait)
		fin, werr := rs.Wait(wctx, id)
		cancel()
		if werr != nil {
			return Report{}, err
		}
		st = fin
	}
	entries, chainErr := log.Read(ctx, audit.Filter{Release: st.ReleaseID})
	var ce *audit.ChainError
	if chainErr != nil && !errors.As(chainErr, &ce) {
		return Report{}, fmt.Errorf("read the audit log %s: %w", log, chainErr)
	}
	chain, verr := log.Verify(ctx)
	if chainErr == nil && verr != nil {
		chainErr = verr
	}
	return Build(st, entries, chain, chainErr, now), nil
}
