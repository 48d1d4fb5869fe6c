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
	// Entries, when set, are appended in order instead of Entry: records a
	// workflow wrote together, with one fsync where the store can.
	Entries []Entry `json:",omitempty"`
}

// allAppender is a store that appends several entries in order at the cost
// of one (the file Log); others take them one after another.
type allAppender interface {
	AppendAll(ctx context.Context, es []Entry) ([]Entry, error)
}

// AppendAuditResult identifies the stored entry (the last of Entries).
// Recording Hash in workflow history gives an anchor outside the log to
// check its head against.
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
	entries := in.Entries
	if len(entries) == 0 {
		entries = []Entry{in.Entry}
	}
	start := time.Now()
	stored, err := a.appendAll(ctx, entries)
	recordAppend(ctx, time.Since(start), err)
	if err != nil {
		return AppendAuditResult{}, classify(err)
	}
	if a.Notify != nil {
		for _, e := range stored {
			a.Notify(e)
		}
	}
	last := stored[len(stored)-1]
	return AppendAuditResult{Seq: last.Seq, Hash: last.Hash}, nil
}

// appendAll appends es in order: at once where the store can, else one
// after another (a retry finds those already written by ID).
func (a *Activities) appendAll(ctx context.Context, es []Entry) ([]Entry, error) {
	if all, ok := a.Log.(allAppender); ok && len(es) > 1 {
		return all.AppendAll(ctx, es)
	}
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		stored, err := a.Log.Append(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, stored)
	}
	return out, nil
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
