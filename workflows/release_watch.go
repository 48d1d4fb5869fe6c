package workflows

import (
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"
)

// startWatch starts environment i's post-release watch when its runbook
// has watch: journeys, as a child that outlives the release (parent close
// policy abandon). Environments without watch: emit nothing here, so
// histories of such runbooks replay unchanged; those with it ask
// postReleaseWatchChange first. A rollback's environment starts one too:
// it replaces the watch of the version it took away.
func (r *release) startWatch(ctx workflow.Context, i int) {
	env := r.in.Runbook.Environments[i]
	if len(env.Watch) == 0 || !changed(ctx, r.lean, postReleaseWatchChange) {
		return
	}
	ended := r.status.Environments[i].EndedAt
	if ended.IsZero() {
		ended = workflow.Now(ctx)
	}
	in := WatchInput{ReleaseID: r.status.ReleaseID, Service: r.in.Runbook.Service, Environment: env.Name,
		Version: r.in.Version, Artifact: r.in.Runbook.Artifact.Reference, Journeys: env.Watch,
		Until: ended.Add(env.WatchAfterOr())}
	id := WatchID(in.Service, env.Name)
	names := make([]string, len(env.Watch))
	for k, w := range env.Watch {
		names[k] = w.Name
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id,
		// The watch outlives the release that started it.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// One watch per environment: the newer release's replaces the
		// older one's, which watches a version no longer live. A child
		// start has no ID conflict policy; this reuse policy is how the
		// server terminates the running one (TERMINATE_EXISTING) for it.
		//lint:ignore SA1019 the only form of TERMINATE_EXISTING a child start takes.
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING,
		StaticSummary:         fmt.Sprintf("watch %s %s in %s until %s", in.Service, in.Version, env.Name, in.Until.UTC().Format("2006-01-02 15:04 MST")),
		StaticDetails:         fmt.Sprintf("release %s · journeys %s · every run acts as an alert of severity journey", in.ReleaseID, strings.Join(names, ", ")),
	})
	var exec workflow.Execution
	// Waiting for the start keeps the release open until the watch runs,
	// and says in the audit whether it did.
	err := workflow.ExecuteChildWorkflow(cctx, WatchWorkflowName, in).GetChildWorkflowExecution().Get(ctx, &exec)
	if err != nil {
		r.audit(ctx, "watch.failed", r.in.Requester, StateFailed, fmt.Sprintf("%s in %s: could not start: %s", id, env.Name, rootMessage(err)))
		return
	}
	r.audit(ctx, "watch.started", r.in.Requester, StateRunning, fmt.Sprintf("%s (run %s) in %s: journeys %s until %s",
		id, exec.RunID, env.Name, strings.Join(names, ", "), in.Until.UTC().Format("2006-01-02T15:04:05Z")))
}
