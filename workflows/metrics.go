package workflows

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/internal/telemetry"
)

// metrics is the environment's metrics handler tagged with its service and
// environment. The SDK's handler records nothing while a history replays,
// so each duration is recorded once, when it really ends, and no command is
// added to the history.
func (e *environment) metrics(ctx workflow.Context, outcome string) client.MetricsHandler {
	return workflow.GetMetricsHandler(ctx).WithTags(map[string]string{
		telemetry.LabelService:     e.in.Service,
		telemetry.LabelEnvironment: e.status.Name,
		telemetry.LabelOutcome:     outcome,
	})
}

// recordGateWait records how long a gate waited from opening to its
// decision (approved, rejected, timed-out or interrupted).
func (e *environment) recordGateWait(ctx workflow.Context, opened time.Time, outcome string) {
	e.metrics(ctx, outcome).Timer(telemetry.GateWaitSeconds).Record(workflow.Now(ctx).Sub(opened))
}

// recordRollback records how long a rollback took from the failure that
// started it to its compensations done, by the state it ended in.
func (e *environment) recordRollback(ctx workflow.Context, started time.Time) {
	e.metrics(ctx, e.status.State).Timer(telemetry.RollbackSeconds).Record(workflow.Now(ctx).Sub(started))
}
