package runbooks

import "time"

// Alert actions (environments[].on-alert): what the worker does to the
// release an Alertmanager alert points at (internal/alerts).
const (
	// AlertRollback aborts the running release (its own compensation), or
	// starts the one-command rollback of a release that finished within
	// watch-after.
	AlertRollback = "rollback"
	// AlertPause pauses the running release before its next step.
	AlertPause = "pause"
	// AlertNotify only posts and audits the alert.
	AlertNotify = "notify"
)

// AlertActions are the actions on-alert accepts, in the order docs list them.
var AlertActions = []string{AlertRollback, AlertPause, AlertNotify}

// DefaultWatchAfter is how long after a release finished an alert still
// points at it (environments[].watch-after).
const DefaultWatchAfter = time.Hour

// AlertDefaultSeverity is the on-alert key used for a severity it does not list.
const AlertDefaultSeverity = "default"

// OnAlertAction is the action an alert of the given severity asks for: the
// severity's entry, else default, else notify.
func (e *Environment) OnAlertAction(severity string) string {
	if a, ok := e.OnAlert[severity]; ok && severity != "" {
		return a
	}
	if a, ok := e.OnAlert[AlertDefaultSeverity]; ok {
		return a
	}
	return AlertNotify
}

// WatchAfterOr is how long after a release finished here an alert still
// acts on it.
func (e *Environment) WatchAfterOr() time.Duration {
	return e.WatchAfter.Or(DefaultWatchAfter)
}
