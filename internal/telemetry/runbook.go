package telemetry

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
)

// Names of runbook's own metrics. Workflow code records them through
// workflow.GetMetricsHandler, which the SDK silences during replay, so a
// gate decided once is counted once however often its history replays;
// activities record them through Activity.
const (
	// GateWaitSeconds is a timer: from a gate opening to its decision, by
	// environment and outcome (approved, rejected, timed-out, interrupted).
	GateWaitSeconds = "runbook_gate_wait_seconds"
	// RollbackSeconds is a timer: from the failure, breach or rejection that
	// starts a rollback to its compensations done, by environment and
	// outcome (the environment's end state).
	RollbackSeconds = "runbook_rollback_duration_seconds"
	// AnalysisVerdicts counts each analysis check's verdict (pass, fail,
	// inconclusive) by check.
	AnalysisVerdicts = "runbook_analysis_verdicts_total"
	// AuditAppendSeconds is a timer: one append to the audit store, by
	// outcome (ok, error).
	AuditAppendSeconds = "runbook_audit_append_seconds"
	// AnnotationFailures counts Grafana annotations that could not be posted.
	AnnotationFailures = "runbook_grafana_annotation_failures_total"
	// Releases is a gauge: releases in flight by service, environment and
	// state, read from Temporal's visibility at scrape time.
	Releases = "runbook_releases"
)

// Label names of runbook's own metrics.
const (
	LabelEnvironment = "environment"
	LabelOutcome     = "outcome"
	LabelCheck       = "check"
	LabelVerdict     = "verdict"
	LabelService     = "service"
	LabelState       = "state"
)

// Activity is the metrics handler of an activity's ctx (tagged by the SDK
// with the activity and task queue), or the no-op handler when ctx is not
// an activity's: a test calling the activity's method directly.
func Activity(ctx context.Context) client.MetricsHandler {
	if !activity.IsActivity(ctx) {
		return client.MetricsNopHandler
	}
	return activity.GetMetricsHandler(ctx)
}
