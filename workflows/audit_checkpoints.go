package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
)

// An AuditCheckpoints run continues as new past checkpointHistoryLimit
// events or checkpointRequestLimit records, so its history stays short
// however long the log lives. Variables so a test can reach them quickly.
var (
	checkpointHistoryLimit = 2000
	checkpointRequestLimit = 500
)

// AuditCheckpoints keeps the newest signed checkpoint (seq, head hash) of
// one audit log (ID audit.CheckpointsWorkflowID): workers record it through
// the audit.UpdateRecordCheckpoint Update, whose validator accepts only a
// newer seq with a signature by a trusted key, and `runbook audit verify
// --temporal` reads it with the audit.QueryCheckpoint Query. A workflow
// rather than a Schedule memo or search attribute: memo and attributes can
// be overwritten by anyone who can describe the schedule, with any value,
// while the Update's validator keeps the seq from going backwards and the
// history records every checkpoint. The state is carried across
// continue-as-new; cancelling ends the run, and the next worker to record
// starts a new one from the closed run's state.
func AuditCheckpoints(ctx workflow.Context, in audit.Witness) error {
	w := &witness{Witness: in}
	if err := workflow.SetQueryHandler(ctx, audit.QueryCheckpoint, func() (audit.Witness, error) {
		return w.Witness, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, audit.UpdateRecordCheckpoint, w.record,
		workflow.UpdateHandlerOptions{Validator: w.validate}); err != nil {
		return err
	}
	err := workflow.Await(ctx, w.rotate(ctx))
	// Updates accepted before the cancellation or the rotation finish first,
	// so no recorded checkpoint is lost to the next run.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	if err != nil {
		return err
	}
	return workflow.NewContinueAsNewError(ctx, AuditCheckpoints, w.Witness)
}

// witness is the state of one AuditCheckpoints run.
type witness struct {
	audit.Witness
	// records counts the checkpoints this run recorded.
	records int
}

// validate refuses a checkpoint before anything is written to history.
func (w *witness) validate(_ workflow.Context, in audit.RecordCheckpointInput) error {
	return w.Check(in)
}

// record keeps the checkpoint the validator accepted.
func (w *witness) record(_ workflow.Context, in audit.RecordCheckpointInput) (audit.Checkpoint, error) {
	w.Record(in)
	w.records++
	return in.Checkpoint, nil
}

// rotate returns the condition for continuing as new.
func (w *witness) rotate(ctx workflow.Context) func() bool {
	return func() bool {
		info := workflow.GetInfo(ctx)
		return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > checkpointHistoryLimit ||
			w.records >= checkpointRequestLimit
	}
}
