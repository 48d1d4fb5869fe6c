package audit

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"
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
	e, err := a.Log.Append(ctx, in.Entry)
	if err != nil {
		return AppendAuditResult{}, classify(err)
	}
	return AppendAuditResult{Seq: e.Seq, Hash: e.Hash}, nil
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
