package audit

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/telemetry"
)

// Error types reported by AppendAudit, visible in the Temporal UI.
const (
	ErrTypeInvalid       = "AuditInvalid"
	ErrTypeNotConfigured = "AuditNotConfigured"
	ErrTypeLogBroken     = "AuditLogBroken"
)

// Activities appends to the audit log from workflows.
type Activities struct {
	// Log is where entries go: the file *Log or *Postgres.
	Log Store
	// Notify, when set, is told of each entry once it is stored (the
	// worker's Grafana annotations). It must not block: it runs in the
	// workflow's audit activity.
	Notify func(Entry)
}

// AppendAuditInput carries the entry to append. Seq, Prev and Hash are assigned
// by the log and ignored here; ID must be an idempotency key generated in the
// workflow and Time the workflow time, so a retry writes the same record once.
type AppendAuditInput struct {
	Entry Entry
}

// AppendAuditResult identifies the stored entry. Recording Hash in workflow
// history gives an anchor outside the log to check its head against.
type AppendAuditResult struct {
	Seq  int64
	Hash string
}

// AppendAudit appends in.Entry to the log, or returns the stored entry if its ID
// is already there. An invalid entry fails without retry; a broken chain fails
// with retries, so the release waits while someone restores the log.
func (a *Activities) AppendAudit(ctx context.Context, in AppendAuditInput) (AppendAuditResult, error) {
	if a == nil || a.Log == nil {
		return AppendAuditResult{}, temporal.NewNonRetryableApplicationError(
			"audit log is not configured on this worker; set its path (RUNBOOK_AUDIT_LOG) or database (RUNBOOK_AUDIT_DSN) in the worker config",
			ErrTypeNotConfigured, nil)
	}
	start := time.Now()
	e, err := a.Log.Append(ctx, in.Entry)
	recordAppend(ctx, time.Since(start), err)
	if err != nil {
		return AppendAuditResult{}, classify(err)
	}
	if a.Notify != nil {
		a.Notify(e)
	}
	return AppendAuditResult{Seq: e.Seq, Hash: e.Hash}, nil
}

// recordAppend records the latency of one append by outcome: a slow or
// failing audit store holds every release at its next step.
func recordAppend(ctx context.Context, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	telemetry.Activity(ctx).WithTags(map[string]string{telemetry.LabelOutcome: outcome}).
		Timer(telemetry.AuditAppendSeconds).Record(d)
}

// classify maps Append errors to application errors with a type name.
func classify(err error) error {
	var ce *ChainError
	switch {
	case errors.Is(err, ErrInvalidEntry):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalid, err)
	case errors.As(err, &ce):
		return temporal.NewApplicationErrorWithCause(err.Error(), ErrTypeLogBroken, err)
	default:
		return err
	}
}
