package workflows

import (
	"time"

	"github.com/runbookhq/runbook/runbooks"
)

// WatchWorkflowName is the workflow type of a post-release watch.
const WatchWorkflowName = "Watch"

// WatchFailedActivity is the activity (served by the worker, which holds
// the alerts configuration, a releases client and the audit log) that acts
// on a failing watch journey exactly as an alert of severity
// runbooks.AlertSeverityJourney would.
const WatchFailedActivity = "WatchJourneyFailed"

// postReleaseWatchChange versions the Release's start of a Watch child.
// Only releases whose environment has watch: ask for it, so histories of
// runbooks without one replay unchanged.
const postReleaseWatchChange = "post-release-watch"

// Watch states.
const (
	WatchRunning = "watching"
	// WatchActed: a failure rolled the release back; nothing is left to watch.
	WatchActed = "acted"
	// WatchEnded: watch-after has passed since the release ended.
	WatchEnded = "ended"
)

// WatchID is the workflow ID of the watch of a service in an environment:
// one per environment, so a newer release's watch replaces the older one.
func WatchID(service, env string) string {
	return "watch/" + service + "/" + env
}

// WatchInput is the one input of the Watch workflow.
type WatchInput struct {
	ReleaseID   string `json:"release-id"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Version     string `json:"version"`
	// Artifact is the artifact reference, for ${artifact}.
	Artifact string           `json:"artifact,omitempty"`
	Journeys []runbooks.Watch `json:"journeys"`
	// Until is when the watch ends: the environment's end plus watch-after.
	Until time.Time `json:"until"`
	// Status carries the watch across continue-as-new.
	Status *WatchStatus `json:"status,omitempty"`
}

// WatchStatus is what the watch's status query answers.
type WatchStatus struct {
	WatchID     string    `json:"watch-id"`
	ReleaseID   string    `json:"release-id"`
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	State       string    `json:"state"`
	Until       time.Time `json:"until"`
	// Failures counts the failed runs of every journey.
	Failures int                  `json:"failures"`
	Journeys []WatchJourneyStatus `json:"journeys"`
	// Reason says why the watch ended, once it did.
	Reason string `json:"reason,omitempty"`
}

// WatchJourneyStatus is one journey's last result.
type WatchJourneyStatus struct {
	Name     string    `json:"name"`
	Runs     int       `json:"runs"`
	Failures int       `json:"failures"`
	LastRun  time.Time `json:"last-run,omitempty"`
	NextRun  time.Time `json:"next-run,omitempty"`
	Passed   bool      `json:"passed"`
	// Detail is the last run's outcome: the failing request and expectation.
	Detail string `json:"detail,omitempty"`
	// FailingSince is the first failure of the current failing streak,
	// the synthetic alert's startsAt; zero while the journey passes.
	FailingSince time.Time `json:"failing-since,omitempty"`
	// Action is what the last failure led to (rollback, notify, refused,
	// duplicate...).
	Action string `json:"action,omitempty"`
}

// WatchFailedInput is one failing run of a watch journey.
type WatchFailedInput struct {
	WatchID     string `json:"watch-id"`
	ReleaseID   string `json:"release-id"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Journey     string `json:"journey"`
	// Summary names the failing request and expectation.
	Summary string `json:"summary"`
	// FirstFailedAt is the first failure of this streak: repeats of the
	// same streak are one firing, a failure after a pass is a new one.
	FirstFailedAt time.Time `json:"first-failed-at"`
}

// Fingerprint is the synthetic alert's fingerprint: the watch and journey.
func (in WatchFailedInput) Fingerprint() string {
	return in.WatchID + "/" + in.Journey
}

// WatchFailedResult is what the failure led to.
type WatchFailedResult struct {
	// Action is the alert action: rollback, abort, pause, notify, refused.
	Action  string `json:"action"`
	Detail  string `json:"detail"`
	Release string `json:"release,omitempty"`
	// Duplicate is set when this firing was acted on before.
	Duplicate bool `json:"duplicate,omitempty"`
	// Configured is false when the worker has no alerts configuration:
	// the failure is audited and nothing else is done.
	Configured bool `json:"configured"`
}

// RolledBack reports whether the release was rolled back (or its running
// rollback started), after which the watch has nothing left to watch.
func (r WatchFailedResult) RolledBack() bool {
	return r.Action == runbooks.AlertRollback || r.Action == "abort"
}
