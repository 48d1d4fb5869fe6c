package alerts

import (
	"context"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// ChannelWatch is the audit channel of what a failing watch journey led to.
const ChannelWatch = "watch"

// noAction is the detail of a watch failure on a worker without alerts file.
const noAction = "no action configured: the worker has no alerts file (RUNBOOK_ALERTS_FILE), so the failure is only audited"

// Watcher acts on failing post-release watch journeys: each failure is a
// synthetic alert of severity journey, handled exactly as an Alertmanager
// alert is (on-alert, watch-after, dedup record, audit, DORA mark).
type Watcher struct {
	// Acter is nil when the worker has no alerts file: a failure is then
	// audited and nothing is done.
	Acter *Acter
	Audit audit.Store
}

// JourneyFailed is the activity workflows.WatchFailedActivity.
func (w *Watcher) JourneyFailed(ctx context.Context, in workflows.WatchFailedInput) (workflows.WatchFailedResult, error) {
	m, a := journeyAlert(in)
	sev := runbooks.AlertSeverityJourney
	if w.Acter == nil {
		o := outcome{action: runbooks.AlertNotify, release: in.ReleaseID, detail: noAction}
		t := Target{Service: in.Service, Environment: in.Environment, ReleaseID: in.ReleaseID}
		err := (&Acter{Audit: w.Audit}).audit(ctx, m, a, t, sev, o)
		return workflows.WatchFailedResult{Action: o.action, Detail: o.detail, Release: o.release}, err
	}
	o, err := w.Acter.firing(ctx, m, a, in.Service, in.Environment, sev)
	return workflows.WatchFailedResult{Action: o.action, Detail: o.detail, Release: o.release, Duplicate: o.duplicate, Configured: true}, err
}

// journeyAlert is the synthetic alert of a watch failure: its fingerprint
// names the watch and journey and its start the streak's first failure,
// so repeats of one streak are one firing.
func journeyAlert(in workflows.WatchFailedInput) (Message, Alert) {
	m := Message{Version: "4", Status: StatusFiring, channel: ChannelWatch, source: "watch " + in.WatchID, release: in.ReleaseID}
	a := Alert{
		Status: StatusFiring, Fingerprint: in.Fingerprint(), StartsAt: in.FirstFailedAt,
		Labels: map[string]string{"alertname": "watch journey " + in.Journey, "service": in.Service,
			"environment": in.Environment, "severity": runbooks.AlertSeverityJourney},
		Annotations: map[string]string{"summary": in.Summary},
	}
	m.Alerts = []Alert{a}
	return m, a
}
