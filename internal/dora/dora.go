// Package dora computes the four key delivery metrics (DORA) of a service
// from its finished releases: pure arithmetic over release statuses, so the
// CLI, the worker's gauges and the tests compute them the same way.
package dora

import (
	"slices"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// Metrics are the four key delivery metrics of one service, computed from the
// releases that finished in an environment (normally production).
type Metrics struct {
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	// Deployments succeeded in the environment; PerDay is their frequency.
	Deployments int     `json:"deployments"`
	PerDay      float64 `json:"deployments-per-day"`
	// LeadTime is the median from the commit (deploy --commit-time) to
	// the release's success in the environment; a release without build
	// metadata counts from its own start. LeadTimeFromCommit says how many
	// of the successes had a commit time.
	LeadTime           time.Duration `json:"lead-time"`
	LeadTimeFromCommit int           `json:"lead-time-from-commit"`
	// Failures are releases rolled back, aborted or failed in the
	// environment; ChangeFailureRate is Failures over all changes.
	Failures          int     `json:"failures"`
	ChangeFailureRate float64 `json:"change-failure-rate"`
	// TimeToRestore is the median from a failure to the next success.
	TimeToRestore time.Duration `json:"time-to-restore"`
	Restores      int           `json:"restores"`
}

// outcome is one release's end in the environment.
type outcome struct {
	started, ended time.Time
	ok             bool
	// fromCommit is set when started is the commit time, not the release's.
	fromCommit bool
	// restoredIn is how long the rollback of a release that had succeeded
	// took, from its start to its end: that release is a failed change.
	restoredIn time.Duration
}

// rollbacks maps each release rolled back by a rollback that succeeded
// within the period to the rollback's duration, its time to restore.
func rollbacks(statuses []workflows.ReleaseStatus, env string, since, until time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, st := range statuses {
		if st.Rollback == nil {
			continue
		}
		if o, ok := outcomeIn(st, env, since, until); ok && o.ok {
			from := st.StartedAt
			// Started by an alert: users suffered from when it fired.
			if fired, ok := rollbackFiredAt(st); ok && fired.Before(from) {
				from = fired
			}
			out[st.Rollback.Of] = o.ended.Sub(from)
		}
	}
	return out
}

// Compute works the metrics out of final release statuses. env names
// the environment; empty means each release's last one.
func Compute(service, env string, since, until time.Time, statuses []workflows.ReleaseStatus) Metrics {
	d := Metrics{Service: service, Environment: env, Since: since, Until: until}
	restoredBy := rollbacks(statuses, env, since, until)
	var outs []outcome
	for _, st := range statuses {
		if st.Rollback != nil {
			continue // a restore, not a change: counted with what it rolled back
		}
		if o, ok := outcomeIn(st, env, since, until); ok {
			if r, rolled := restoredBy[st.ReleaseID]; rolled {
				o.ok, o.restoredIn = false, r
			}
			outs = append(outs, o)
		}
	}
	slices.SortFunc(outs, func(a, b outcome) int { return a.ended.Compare(b.ended) })
	var leads, restores []time.Duration
	var failedAt time.Time
	for _, o := range outs {
		if !o.ok {
			d.Failures++
			if o.restoredIn > 0 {
				restores = append(restores, o.restoredIn)
			} else if failedAt.IsZero() {
				failedAt = o.ended
			}
			continue
		}
		d.Deployments++
		leads = append(leads, o.ended.Sub(o.started))
		if o.fromCommit {
			d.LeadTimeFromCommit++
		}
		if !failedAt.IsZero() {
			restores = append(restores, o.ended.Sub(failedAt))
			failedAt = time.Time{}
		}
	}
	if days := until.Sub(since).Hours() / 24; days > 0 {
		d.PerDay = float64(d.Deployments) / days
	}
	if n := d.Deployments + d.Failures; n > 0 {
		d.ChangeFailureRate = float64(d.Failures) / float64(n)
	}
	d.LeadTime, d.TimeToRestore, d.Restores = median(leads), median(restores), len(restores)
	return d
}

// outcomeIn is how release st ended in env, if it did within [since, until).
// Rejections and timeouts at a gate changed nothing, so they do not count.
func outcomeIn(st workflows.ReleaseStatus, env string, since, until time.Time) (outcome, bool) {
	if len(st.Environments) == 0 {
		return outcome{}, false
	}
	e := st.Environments[len(st.Environments)-1]
	if env != "" {
		i := slices.IndexFunc(st.Environments, func(e workflows.EnvironmentStatus) bool { return e.Name == env })
		if i < 0 {
			return outcome{}, false
		}
		e = st.Environments[i]
	}
	if e.EndedAt.IsZero() || e.EndedAt.Before(since) || !e.EndedAt.Before(until) {
		return outcome{}, false
	}
	switch e.State {
	case workflows.StateSucceeded:
		if b := st.Build; b != nil && !b.CommitTime.IsZero() && b.CommitTime.Before(e.EndedAt) {
			return outcome{started: b.CommitTime, ended: e.EndedAt, ok: true, fromCommit: true}, true
		}
		return outcome{started: st.StartedAt, ended: e.EndedAt, ok: true}, true
	case workflows.StateRolledBack, workflows.StateRollbackIncomplete, workflows.StateFailed, workflows.StateAborted:
		o := outcome{started: st.StartedAt, ended: e.EndedAt}
		// Aborted because of an alert: its own compensation restored
		// service when the environment ended (a rollback-incomplete did not).
		if fired, ok := abortFiredAt(st, e); ok && e.State != workflows.StateRollbackIncomplete && fired.Before(e.EndedAt) {
			o.restoredIn = e.EndedAt.Sub(fired)
		}
		return o, true
	}
	return outcome{}, false
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
