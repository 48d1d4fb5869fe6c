package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/alerts"
	"github.com/runbookhq/runbook/workflows"
)

// registerWatch registers the activity a post-release watch hands its
// failures to. It acts as the alert endpoint's Acter does (same releases
// client, signing key, Slack and audit log); without an alerts file it
// only audits.
func registerWatch(w worker.Registry, al *alertsWiring, log audit.Store) {
	wt := &alerts.Watcher{Audit: log}
	if al != nil {
		wt.Acter = al.handler.Acter
	}
	w.RegisterActivityWithOptions(wt.JourneyFailed, activity.RegisterOptions{Name: workflows.WatchFailedActivity})
}
