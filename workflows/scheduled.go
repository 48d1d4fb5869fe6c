package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/versions"
	"github.com/runbookhq/runbook/runbooks"
)

// ScheduledReleaseWorkflowName is the workflow type a release schedule
// (runbook schedule create) starts each time it fires.
const ScheduledReleaseWorkflowName = "ScheduledRelease"

// Outcomes of a scheduled release, also its RunbookStatus search attribute.
const (
	ScheduledStarted = "started"
	ScheduledSkipped = "skipped"
)

// TriggerSchedule is Trigger.Kind for releases a schedule started.
const TriggerSchedule = "schedule"

// ScheduleRequester is who a schedule's releases are requested by.
func ScheduleRequester(scheduleID string) string { return "schedule:" + scheduleID }

// ScheduledReleaseInput is the schedule's action: what to release, with the
// version left open until the schedule fires.
type ScheduledReleaseInput struct {
	ScheduleID string `json:"schedule-id"`
	// Runbook is resolved like a release's (modules, databases and keys
	// read, references absolute) except for the artifact's version, so its
	// artifact references still hold ${version} and ${artifact}.
	Runbook     runbooks.Runbook `json:"runbook"`
	RunbookFile string           `json:"runbook-file"`
	// VersionFrom is where the version is read when the schedule fires:
	// oci://HOST/REPO:TAG or a version file (versions.ResolveInput.From).
	VersionFrom string `json:"version-from"`
	Requester   string `json:"requester"`
	UIURL       string `json:"ui-url,omitempty"`
}

// ScheduledReleaseResult says what one firing did.
type ScheduledReleaseResult struct {
	// Outcome is ScheduledStarted or ScheduledSkipped.
	Outcome   string `json:"outcome"`
	Version   string `json:"version"`
	Digest    string `json:"digest"`
	ReleaseID string `json:"release-id"`
	// Summary is the outcome in one line, e.g. "skipped: 1.4.2 already released".
	Summary string `json:"summary"`
}

var versionActs *versions.Activities

// ScheduledRelease resolves the version its source names now and starts
// that version's release, unless release/<svc>/<version> already exists in
// any state but failed: then it skips, and says so. The release is a child
// that outlives this workflow (parent close policy abandon), and Temporal's
// ID reuse policy makes the existence check and the start one atomic step.
func ScheduledRelease(ctx workflow.Context, in ScheduledReleaseInput) (ScheduledReleaseResult, error) {
	var v versions.ResolveResult
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
		Summary:     "resolve version from " + in.VersionFrom,
	})
	err := workflow.ExecuteActivity(actx, versionActs.Resolve, versions.ResolveInput{
		From: in.VersionFrom, Service: in.Runbook.Service, Artifact: in.Runbook.Artifact.Reference,
	}).Get(ctx, &v)
	if err != nil {
		return ScheduledReleaseResult{}, err
	}
	rel := scheduledReleaseInput(in, v, scheduledTime(ctx))
	out := ScheduledReleaseResult{Version: v.Version, Digest: v.Digest, ReleaseID: ReleaseID(in.Runbook.Service, v.Version)}
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, scheduledChildOptions(out.ReleaseID, rel)),
		ReleaseWorkflowName, rel)
	var exec workflow.Execution
	err = child.GetChildWorkflowExecution().Get(ctx, &exec)
	var exists *temporal.ChildWorkflowExecutionAlreadyStartedError
	switch {
	case errors.As(err, &exists):
		out.Outcome, out.Summary = ScheduledSkipped, fmt.Sprintf("skipped: %s already released", v.Version)
	case err != nil:
		return out, err
	default:
		out.Outcome, out.Summary = ScheduledStarted, fmt.Sprintf("started %s (%s)", out.ReleaseID, v.Detail)
	}
	recordScheduled(ctx, in, out)
	return out, nil
}

// scheduledTime is the time the schedule meant to fire (the trigger time
// for `runbook schedule trigger`), else this run's start.
func scheduledTime(ctx workflow.Context) time.Time {
	key := temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(key); ok {
		return t.UTC()
	}
	return workflow.GetInfo(ctx).WorkflowStartTime.UTC()
}

// scheduledReleaseInput is the release of version v: the artifact
// references filled in and pinned, the trigger naming the schedule.
func scheduledReleaseInput(in ScheduledReleaseInput, v versions.ResolveResult, at time.Time) ReleaseInput {
	rb := in.Runbook
	rb.Artifact = ExpandArtifact(rb.Artifact, rb.Service, v.Version, v.Artifact)
	rb.Artifact.Digest = v.Digest
	return ReleaseInput{
		Runbook: rb, Version: v.Version, Digest: v.Digest, Requester: in.Requester,
		RunbookFile: in.RunbookFile, UIURL: in.UIURL,
		Trigger: &Trigger{Kind: TriggerSchedule, Source: in.ScheduleID, ID: at.Format(time.RFC3339), Detail: v.Detail},
	}
}

// ExpandArtifact fills a version into an artifact whose references were
// resolved with ${version} left in them; ref is the artifact reference for
// that version. The signature and report may name ${artifact}.
func ExpandArtifact(a runbooks.Artifact, service, version, ref string) runbooks.Artifact {
	vars := map[string]string{"version": version, "service": service, "artifact": ref}
	a.Reference = ref
	if a.Signature != nil {
		sig := *a.Signature
		sig.Signature = runbooks.Expand(sig.Signature, vars)
		a.Signature = &sig
	}
	if a.Vulnerabilities != nil {
		vr := *a.Vulnerabilities
		vr.Report = runbooks.Expand(vr.Report, vars)
		a.Vulnerabilities = &vr
	}
	return a
}

// scheduledChildOptions start the release under its usual ID and policies:
// a failed release of the version may run again, any other may not.
func scheduledChildOptions(id string, in ReleaseInput) workflow.ChildWorkflowOptions {
	return workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		// The release must outlive the small workflow that started it.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		StaticSummary:         fmt.Sprintf("%s %s by %s: %s", in.Runbook.Service, in.Version, in.Requester, envChain(in)),
		StaticDetails:         fmt.Sprintf("owner %s · artifact %s · digest %s · %s", in.Runbook.Owner, in.Runbook.Artifact.Reference, in.Digest, in.Trigger.Describe()),
		TypedSearchAttributes: temporal.NewSearchAttributes(ReleaseSearchAttributes(in)...),
	}
}

// ReleaseSearchAttributes are the search attributes a release starts with;
// an emergency release is marked both ways so a list can filter on either.
func ReleaseSearchAttributes(in ReleaseInput) []temporal.SearchAttributeUpdate {
	return []temporal.SearchAttributeUpdate{AttrService.ValueSet(in.Runbook.Service),
		AttrVersion.ValueSet(in.Version), AttrStatus.ValueSet(StatePending),
		AttrBreakGlass.ValueSet(fmt.Sprint(in.BreakGlass != nil))}
}

// envChain is the promotion order, e.g. "staging → production".
func envChain(in ReleaseInput) string {
	names := make([]string, len(in.Runbook.Environments))
	for i, e := range in.Runbook.Environments {
		names[i] = e.Name
	}
	return strings.Join(names, " → ")
}

// recordScheduled leaves the outcome where people look: the current
// details, RunbookStatus and the memo in the Web UI, and the audit log.
func recordScheduled(ctx workflow.Context, in ScheduledReleaseInput, out ScheduledReleaseResult) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** schedule %s: %s", in.Runbook.Service, in.ScheduleID, out.Summary))
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrVersion.ValueSet(out.Version), AttrStatus.ValueSet(out.Outcome)); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{"outcome": out.Summary}); err != nil {
		workflow.GetLogger(ctx).Warn("memo not updated", "error", err)
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID: info.ID + "/" + info.RunID + "/scheduled", Time: workflow.Now(ctx).UTC(), Actor: in.Requester,
		Action: "schedule." + out.Outcome, Release: out.ReleaseID, Service: in.Runbook.Service,
		Outcome: out.Outcome, Detail: out.Summary, Channel: TriggerSchedule,
	}}, nil)
}

// ScheduledAttrs are the search attributes a scheduled release starts with.
func ScheduledAttrs(service string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(AttrService.ValueSet(service), AttrStatus.ValueSet(StateRunning))
}
