package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
)

// Registration is a workflow function, the name clients start it by, and
// its versioning behavior under Worker Versioning.
type Registration struct {
	Name string
	Fn   any
	// Behavior says which build runs the workflow's tasks once workers
	// are versioned (RUNBOOK_DEPLOYMENT_NAME): Pinned stays on the build it
	// started on, so a new build never replays its history; AutoUpgrade
	// moves to the deployment's current build at its next task, so its
	// code changes go behind workflow.GetVersion.
	Behavior workflow.VersioningBehavior
}

const (
	pinned      = workflow.VersioningBehaviorPinned
	autoUpgrade = workflow.VersioningBehaviorAutoUpgrade
)

// Registrations are the workflows a worker serves, each under the name
// constant clients use, so renaming a Go function cannot silently break a
// client. Freezes runs on its own task queue (freezes.TaskQueue).
//
// Pinned are the workflows that wait for days (gates, soaks, trains,
// watches) and end: their build must keep running until they do, and
// then drains. AutoUpgrade are the short ones, which gain nothing from a
// pin, and the ones that never end: Freezes and AuditCheckpoints
// continue-as-new forever, and a pinned run's continue-as-new inherits its
// pin, so pinned they would hold the first build they met for ever; their
// changes go behind workflow.GetVersion instead, as before versioning.
var Registrations = []Registration{
	{ReleaseWorkflowName, Release, pinned},
	{EnvironmentWorkflowName, Environment, pinned},
	{TrainWorkflowName, Train, pinned},
	// A watch lives watch-after past its release (continuing as new on the
	// same pin), then ends: it drains with its build like a release.
	{WatchWorkflowName, Watch, pinned},
	// A drift check plans once; a scheduled release starts its release as
	// an abandoned child (which pins itself on the current build) and ends;
	// a delivery record and a kill switch end at once.
	{DriftWorkflowName, Drift, autoUpgrade},
	{ScheduledReleaseWorkflowName, ScheduledRelease, autoUpgrade},
	{HookDeliveryWorkflowName, HookDelivery, autoUpgrade},
	{FlagOffWorkflowName, FlagOff, autoUpgrade},
	{freezes.WorkflowName, Freezes, autoUpgrade},
	{audit.CheckpointsWorkflowName, AuditCheckpoints, autoUpgrade},
}
