package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// EnvTemporalCheckpoint is how often the worker records the log's newest
// signed checkpoint in Temporal (e.g. 1m, the default when signing), or off.
const EnvTemporalCheckpoint = "RUNBOOK_AUDIT_TEMPORAL_CHECKPOINT"

// ParseTemporalEvery reads EnvTemporalCheckpoint: a duration such as 1m or
// 30s, "" for the default of a minute, off for never.
func ParseTemporalEvery(s string) (time.Duration, error) {
	switch s {
	case "":
		return time.Minute, nil
	case "off":
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		return 0, fmt.Errorf("%s %q: say how often to record the checkpoint in Temporal, e.g. 1m, or off", EnvTemporalCheckpoint, s)
	}
	return d, nil
}

// LatestCheckpoint returns the newest signed checkpoint a signing store
// keeps (the checkpoint file of a Log, the checkpoint table of Postgres),
// nil if it keeps none yet or does not sign.
func LatestCheckpoint(ctx context.Context, s Store) (*Checkpoint, error) {
	switch s := s.(type) {
	case *Postgres:
		if s.signing.Signer == nil {
			return nil, nil
		}
		return s.Checkpoint(ctx)
	case *Log:
		if s.signing.Signer == nil {
			return nil, nil
		}
		cp, err := ReadCheckpoint(s.signing.Checkpoint)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return &cp, err
	}
	return nil, nil
}

// StoreSigner returns the key a store signs with, nil if it does not sign.
func StoreSigner(s Store) *Signer {
	switch s := s.(type) {
	case *Postgres:
		return s.signing.Signer
	case *Log:
		return s.signing.Signer
	}
	return nil
}

// TemporalWitness records a store's newest checkpoint in the
// AuditCheckpoints workflow of its log.
type TemporalWitness struct {
	Client     client.Client
	TaskQueue  string
	WorkflowID string
	Store      Store

	mu   sync.Mutex
	last int64 // the seq last recorded (or refused as not newer)
}

// Record sends the store's newest checkpoint if it is newer than the last
// one sent, starting the workflow if it is not running: on this process's
// first record from the state of its last run if there was one (a cancelled
// or terminated run does not reset the trusted keys), else empty.
func (tw *TemporalWitness) Record(ctx context.Context) error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	cp, err := LatestCheckpoint(ctx, tw.Store)
	if err != nil || cp == nil || cp.Seq <= tw.last {
		return err
	}
	// The first record of this process carries the state of the last run
	// over, should the run have closed: the keys it trusts.
	var carried Witness
	if tw.last == 0 {
		if carried, err = QueryWitness(ctx, tw.Client, tw.WorkflowID); err != nil && !errors.As(err, new(*serviceerror.NotFound)) {
			return err
		}
	}
	start := tw.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       tw.WorkflowID,
		TaskQueue:                tw.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "newest signed checkpoint of the audit log",
	}, CheckpointsWorkflowName, carried)
	h, err := tw.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   UpdateRecordCheckpoint,
			Args:         []any{RecordCheckpointInput{Checkpoint: *cp, PublicKey: StoreSigner(tw.Store).PublicKey()}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNotNewer) || containsNotNewer(err):
		slog.Debug("audit checkpoint already recorded in Temporal", "workflow_id", tw.WorkflowID, "seq", cp.Seq)
	default:
		return fmt.Errorf("record audit checkpoint seq %d in Temporal workflow %s: %w", cp.Seq, tw.WorkflowID, err)
	}
	tw.last = cp.Seq
	return nil
}

// containsNotNewer recognises ErrNotNewer in a validator's refusal, which
// reaches the client as an application error carrying its message only.
func containsNotNewer(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), ErrNotNewer.Error()) {
			return true
		}
	}
	return false
}

// QueryWitness reads the Witness of the AuditCheckpoints workflow
// workflowID: of its running run, or of its last one if it closed (the
// workers replay it to answer). A workflow never started is a
// *serviceerror.NotFound.
func QueryWitness(ctx context.Context, c client.Client, workflowID string) (Witness, error) {
	var w Witness
	v, err := c.QueryWorkflow(ctx, workflowID, "", QueryCheckpoint)
	if err == nil {
		err = v.Get(&w)
	}
	return w, err
}

// StartTemporalWitness records the store's checkpoint in Temporal at once,
// then every interval, and a last time when the returned stop is called (the
// worker's shutdown). Failures are logged: the log and its other checkpoints
// do not depend on Temporal.
func StartTemporalWitness(ctx context.Context, tw *TemporalWitness, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	record := func(ctx context.Context) {
		if err := tw.Record(ctx); err != nil {
			slog.Warn("audit log: the checkpoint was not recorded in Temporal; retried later", "error", err)
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			record(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		record(sctx)
	}
}
