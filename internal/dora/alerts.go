package dora

import (
	"regexp"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// TriggerAlert is workflows.Trigger.Kind of a rollback an Alertmanager
// alert started (internal/alerts).
const TriggerAlert = "alert"

// An alert's start time travels in the text a release keeps anyway (the
// rollback's trigger detail, the abort's reason), marked so the arithmetic
// here finds it: time to restore runs from when the alert fired, which is
// when users started to suffer, not from when a rollback was started.
var firedRe = regexp.MustCompile(`\[alert fired ([0-9TZ:.+-]+)\]`)

// AlertMark is the marker internal/alerts writes into a rollback's trigger
// detail and an abort's reason.
func AlertMark(startsAt time.Time) string {
	return "[alert fired " + startsAt.UTC().Format(time.RFC3339Nano) + "]"
}

// alertFired finds the marker in s.
func alertFired(s string) (time.Time, bool) {
	m := firedRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, m[1])
	return t, err == nil
}

// rollbackFiredAt is when the alert that started rollback st fired.
func rollbackFiredAt(st workflows.ReleaseStatus) (time.Time, bool) {
	if st.Trigger == nil || st.Trigger.Kind != TriggerAlert {
		return time.Time{}, false
	}
	return alertFired(st.Trigger.Detail)
}

// abortFiredAt is when the alert that aborted release st in environment e
// fired, read from the abort's reason.
func abortFiredAt(st workflows.ReleaseStatus, e workflows.EnvironmentStatus) (time.Time, bool) {
	if e.State == workflows.StateSucceeded {
		return time.Time{}, false
	}
	if t, ok := alertFired(e.Reason); ok {
		return t, true
	}
	return alertFired(st.Reason)
}
