package alerts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// Action names in the audit log and the answer, beyond the runbook's own.
const (
	// actAbort is the rollback of a running release: its own compensation.
	actAbort = "abort"
	// actRollbackStart is the one-command rollback of a finished release.
	actRollbackStart = "rollback"
)

// Target is the release an alert points at in one environment.
type Target struct {
	Service, Environment string
	ReleaseID, Version   string
	// Running is set while the release runs in the environment.
	Running bool
	// State and EndedAt are the environment's end, for a finished one.
	State   string
	EndedAt time.Time
	// IsRollback is set when the release is itself a rollback.
	IsRollback bool
	// Env is the environment as the release's own runbook declared it.
	Env runbooks.Environment
}

// recentRuns is how many of an environment's newest runs are looked at.
const recentRuns = 20

// findTarget finds the release running in the environment, else the one
// that finished there last. ok is false when the environment never ran.
func findTarget(ctx context.Context, rc *releases.Client, service, env string) (Target, bool, error) {
	items, err := rc.List(ctx, releases.ListFilter{Service: service, Environment: env, Limit: recentRuns})
	if err != nil {
		return Target{}, false, err
	}
	// Newest first; a running one wins over any finished one.
	i := slices.IndexFunc(items, func(it releases.ListItem) bool { return !(workflows.ReleaseStatus{State: it.Status}).Finished() })
	if i < 0 {
		i = 0
	}
	if len(items) == 0 {
		return Target{}, false, nil
	}
	it := items[i]
	st, err := rc.Status(ctx, it.ReleaseID)
	if err != nil {
		return Target{}, false, err
	}
	in, err := rc.Input(ctx, it.ReleaseID)
	if err != nil {
		return Target{}, false, err
	}
	t := Target{Service: service, Environment: env, ReleaseID: st.ReleaseID, Version: st.Version, IsRollback: st.Rollback != nil}
	for _, e := range st.Environments {
		if e.Name == env {
			t.State, t.EndedAt = e.State, e.EndedAt
		}
	}
	t.Running = !(workflows.ReleaseStatus{State: t.State}).Finished() && !st.Finished()
	for _, e := range in.Runbook.Environments {
		if e.Name == env {
			t.Env = e
		}
	}
	return t, true, nil
}

// decide is what to do about an alert of severity sev that fired at now
// on target t, and why; pure, so the rules are tested without Temporal.
func decide(now time.Time, sev string, t Target) (string, string) {
	want := t.Env.OnAlertAction(sev)
	if t.Running && t.IsRollback {
		// Aborting or pausing a rollback would keep users on what hurts them.
		return runbooks.AlertNotify, fmt.Sprintf("%s is a rollback, running: left to finish", t.ReleaseID)
	}
	if t.Running {
		if want == runbooks.AlertRollback {
			return actAbort, fmt.Sprintf("on-alert %s: %s → abort the running %s (its own rollback)", sev, want, t.ReleaseID)
		}
		return want, fmt.Sprintf("on-alert %s: %s the running %s", sev, want, t.ReleaseID)
	}
	watch := t.Env.WatchAfterOr()
	switch {
	case now.Sub(t.EndedAt) > watch:
		return runbooks.AlertNotify, fmt.Sprintf("%s finished %s ago, past watch-after %s: no release to act on", t.ReleaseID, now.Sub(t.EndedAt).Round(time.Second), watch)
	case want == runbooks.AlertNotify:
		return want, fmt.Sprintf("on-alert %s: notify about %s", sev, t.ReleaseID)
	case t.IsRollback:
		return runbooks.AlertNotify, fmt.Sprintf("%s is a rollback itself; a person decides what comes next", t.ReleaseID)
	case t.State != workflows.StateSucceeded:
		return runbooks.AlertNotify, fmt.Sprintf("%s is already %s there: nothing of it is live", t.ReleaseID, t.State)
	case want == runbooks.AlertPause:
		return runbooks.AlertNotify, fmt.Sprintf("on-alert %s: pause, but %s has finished: nothing to pause", sev, t.ReleaseID)
	}
	return actRollbackStart, fmt.Sprintf("on-alert %s: rollback of %s, finished %s ago (within watch-after %s)", sev, t.ReleaseID, now.Sub(t.EndedAt).Round(time.Second), watch)
}
