package workflows

import (
	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
)

// Registration is a workflow function and the name clients start it by.
type Registration struct {
	Name string
	Fn   any
}

// Registrations are the workflows a worker serves, each under the name
// constant clients use, so renaming a Go function cannot silently break a
// client. Freezes runs on its own task queue (freezes.TaskQueue).
var Registrations = []Registration{
	{ReleaseWorkflowName, Release},
	{EnvironmentWorkflowName, Environment},
	{DriftWorkflowName, Drift},
	{ScheduledReleaseWorkflowName, ScheduledRelease},
	{HookDeliveryWorkflowName, HookDelivery},
	{TrainWorkflowName, Train},
	{FlagOffWorkflowName, FlagOff},
	{WatchWorkflowName, Watch},
	{freezes.WorkflowName, Freezes},
	{audit.CheckpointsWorkflowName, AuditCheckpoints},
}
