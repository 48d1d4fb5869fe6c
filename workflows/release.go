package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
)

// release is the state of one Release workflow execution.
type release struct {
	in       ReleaseInput
	status   ReleaseStatus
	progress workflow.ReceiveChannel
	auditSeq int
	// auditPending counts audit records retried in the background.
	auditPending int
	// glance is set for runs started with atAGlanceChange.
	glance bool
	// lean is set for runs started with leanChange; quiet for version 3
	// of it; quietEnd for version 4 (no refresh as the last environment
	// ends: the release's final one follows in the same workflow task).
	lean, quiet, quietEnd bool
	// givenLean is passed to the environments (EnvironmentInput.Lean)
	// from version 3 of leanChange on; 0 before.
	givenLean int
	// sig verifies an abort sent while the release soaks; cancelSoak ends
	// the soak's timer; abort is who aborted then.
	sig        decisionSigning
	cancelSoak workflow.CancelFunc
	abort      *Decision
}

// Release moves one version of a service through its environments in
// promotion order. Each environment is a child workflow; a later one starts
// only after the earlier one succeeded. Progress of the running environment
// arrives as signals so the status query shows every step.
func Release(ctx workflow.Context, in ReleaseInput) (ReleaseResult, error) {
	versioningTestChange(ctx)
	r := newRelease(ctx, in)
	lean := givenLeanVersion(ctx, in.Lean)
	r.lean, r.quiet, r.quietEnd = lean >= 1, lean >= 3, lean >= 4
	if r.quiet {
		r.givenLean = int(lean)
	}
	r.glance = changed(ctx, r.lean, atAGlanceChange)
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ReleaseStatus, error) {
		return r.status, nil
	}); err != nil {
		return ReleaseResult{}, err
	}
	r.status.State = StateRunning
	if r.quiet {
		// The first environment's start, in this workflow task, writes
		// the search attributes.
		workflow.SetCurrentDetails(ctx, r.status.Summary())
	} else {
		r.refresh(ctx)
	}
	started := "runbook " + in.RunbookFile
	if in.Rollback != nil {
		// The rollback's record says what it replaces and why, so an
		// auditor reads it without the release it names.
		started = in.Rollback.Describe(in.Version) + "; " + started
	}
	if in.Trigger != nil {
		started = in.Trigger.Describe() + "; " + started
	}
	r.audit(ctx, "release.started", in.Requester, StateRunning, started)

	var fail error
	for _, g := range runbooks.Groups(in.Runbook.Environments) {
		last := g[len(g)-1]
		if len(g) == 1 {
			fail = r.runEnvironment(ctx, last)
		} else {
			fail = r.runWave(ctx, g)
		}
		if fail == nil && last+1 < len(in.Runbook.Environments) {
			fail = r.soak(ctx, last)
		}
		if fail != nil {
			r.markNotReached(last + 1)
			break
		}
	}
	r.status.EndedAt = workflow.Now(ctx)
	r.status.CurrentEnvironment = ""
	if fail == nil {
		r.status.State = StateSucceeded
	}
	r.refresh(ctx)
	r.audit(ctx, "release.finished", in.Requester, r.status.State, r.status.Reason)
	// Close only once every audit record is written (a store outage
	// leaves the release open, not its record lost).
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return r.auditPending == 0 })
	if fail != nil {
		return ReleaseResult{}, fail
	}
	return ReleaseResult{Status: r.status}, nil
}

func newRelease(ctx workflow.Context, in ReleaseInput) *release {
	r := &release{in: in, progress: workflow.GetSignalChannel(ctx, signalProgress)}
	rb := in.Runbook
	r.status = ReleaseStatus{
		ReleaseID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		Service:   rb.Service, Owner: rb.Owner, Version: in.Version, Digest: in.Digest,
		Requester: in.Requester, State: StatePending, StartedAt: workflow.Now(ctx), Build: in.Build,
	}
	if in.BreakGlass != nil {
		r.status.BreakGlass = in.BreakGlass.Reason
	}
	r.status.Rollback, r.status.Trigger = in.Rollback, in.Trigger
	for _, env := range rb.Environments {
		r.status.Environments = append(r.status.Environments, EnvironmentStatus{
			Name: env.Name, State: StatePending, WorkflowID: EnvironmentID(rb.Service, env.Name),
			Steps: []StepStatus{}, Compensations: []CompensationStatus{},
		})
	}
	return r
}

// runEnvironment runs environment i as a child workflow and returns the error
// that ends the release, or nil when the environment succeeded.
func (r *release) runEnvironment(ctx workflow.Context, i int) error {
	child, err := r.startEnvironment(ctx, i)
	if err != nil {
		return err
	}
	r.waitChild(ctx, i, child)
	return r.finishEnvironment(ctx, i, child)
}

// startEnvironment starts environment i's child workflow and waits until
// it runs (or could not start: another release holds the environment).
func (r *release) startEnvironment(ctx workflow.Context, i int) (workflow.ChildWorkflowFuture, error) {
	env := r.in.Runbook.Environments[i]
	r.status.CurrentEnvironment = env.Name
	r.status.Environments[i].State = StateRunning
	r.refresh(ctx)

	child := r.startChild(ctx, env.Name, EnvironmentInput{
		ReleaseID: r.status.ReleaseID, Service: r.in.Runbook.Service, Owner: r.in.Runbook.Owner,
		Version: r.in.Version, Artifact: r.in.Runbook.Artifact, Requester: r.in.Requester,
		Policy: r.in.Runbook.Policy, Env: env, UIURL: r.in.UIURL,
		BreakGlass: r.in.BreakGlass, Build: r.in.Build, Digest: r.in.Digest, RunbookFile: r.in.RunbookFile,
		RequesterProof: r.in.RequesterProof, RequestedAt: r.requestedAt(ctx),
		Rollback: r.in.Rollback, Lean: r.givenLean,
	})
	var exec workflow.Execution
	if err := child.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
		return nil, r.fail(i, ErrTypeLocked, lockedMessage(r.status.Environments[i].WorkflowID, env.Name, err))
	}
	r.status.Environments[i].RunID = exec.RunID
	return child, nil
}

// requestedAt is when the requester asked: the input's time when a train
// signed the release ahead, else the release's start.
func (r *release) requestedAt(ctx workflow.Context) time.Time {
	if !r.in.RequestedAt.IsZero() {
		return r.in.RequestedAt
	}
	return workflow.GetInfo(ctx).WorkflowStartTime
}

// finishEnvironment takes environment i's outcome from its closed child.
func (r *release) finishEnvironment(ctx workflow.Context, i int, child workflow.ChildWorkflowFuture) error {
	var res EnvironmentResult
	err := child.Get(ctx, &res)
	if err == nil {
		r.status.Environments[i] = res.Status
		if !r.quietEnd || !r.lastToEnd(i) {
			r.refresh(ctx)
		}
		r.startWatch(ctx, i)
		return nil
	}
	return r.childFailed(ctx, i, err)
}

// lastToEnd reports whether environment i, just ended, ends the release:
// every environment has ended and none starts a watch, so the release's
// final refresh follows in this workflow task and one before it would
// only cost a visibility write.
func (r *release) lastToEnd(i int) bool {
	if len(r.in.Runbook.Environments[i].Watch) > 0 {
		return false
	}
	for _, env := range r.status.Environments {
		if !isFinal(env.State) {
			return false
		}
	}
	return true
}

// soak waits environment i's soak before the next one starts. Only inputs
// with a soak (a field newer than any history without one) reach the
// timer, so older releases replay as they ran.
func (r *release) soak(ctx workflow.Context, i int) error {
	env, next := r.in.Runbook.Environments[i], r.in.Runbook.Environments[i+1]
	if env.Soak <= 0 {
		return nil
	}
	r.status.Soak = &SoakStatus{Environment: env.Name, Next: next.Name, Until: workflow.Now(ctx).Add(env.Soak.D())}
	r.status.CurrentEnvironment = ""
	r.refresh(ctx)
	tctx, cancel := workflow.WithCancel(ctx)
	if changed(ctx, r.lean, soakAbortChange) {
		if err := r.acceptSoakAbort(ctx, cancel); err != nil {
			return err
		}
	}
	timer := workflow.NewTimerWithOptions(tctx, env.Soak.D(), workflow.TimerOptions{
		Summary: fmt.Sprintf("soak %s for %s before %s", env.Name, env.Soak, next.Name)})
	err := timer.Get(ctx, nil)
	r.status.Soak, r.cancelSoak = nil, nil
	switch {
	case r.abort != nil:
		r.status.State, r.status.Reason = StateAborted, fmt.Sprintf("aborted by %s while %s soaked, before %s: %s",
			r.abort.Actor, env.Name, next.Name, r.abort.Comment)
	case err != nil:
		r.status.State, r.status.Reason = StateAborted, fmt.Sprintf("cancelled while %s soaked, before %s", env.Name, next.Name)
	default:
		return nil
	}
	return temporal.NewNonRetryableApplicationError(r.status.Reason, ErrTypeAborted, nil, r.status)
}

func (r *release) startChild(ctx workflow.Context, env string, in EnvironmentInput) workflow.ChildWorkflowFuture {
	opts := workflow.ChildWorkflowOptions{
		WorkflowID: EnvironmentID(in.Service, env),
		// A cancelled or terminated release asks the environment to roll back.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		StaticSummary:         fmt.Sprintf("%s %s → %s (release %s)", in.Service, in.Version, env, in.ReleaseID),
		TypedSearchAttributes: temporal.NewSearchAttributes(childAttrs(in, env)...),
	}
	if r.glance {
		opts.StaticSummary = fmt.Sprintf("%s %s → %s", in.Service, in.Version, env)
		opts.StaticDetails = environmentDetails(in)
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(append(childAttrs(in, env),
			AttrBreakGlass.ValueSet(strconv.FormatBool(in.BreakGlass != nil)))...)
	}
	cctx := workflow.WithChildOptions(ctx, opts)
	return workflow.ExecuteChildWorkflow(cctx, EnvironmentWorkflowName, in)
}

// childAttrs are the search attributes an environment starts with.
func childAttrs(in EnvironmentInput, env string) []temporal.SearchAttributeUpdate {
	attrs := []temporal.SearchAttributeUpdate{AttrService.ValueSet(in.Service), AttrVersion.ValueSet(in.Version),
		AttrEnvironment.ValueSet(env), AttrStatus.ValueSet(StateRunning)}
	if in.BreakGlass != nil {
		attrs = append(attrs, AttrBreakGlass.ValueSet("true"))
	}
	return attrs
}

// waitChild applies progress snapshots until the child workflow closes.
func (r *release) waitChild(ctx workflow.Context, i int, child workflow.ChildWorkflowFuture) {
	done := false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(child, func(workflow.Future) { done = true })
	sel.AddReceive(r.progress, func(c workflow.ReceiveChannel, _ bool) {
		var st EnvironmentStatus
		c.Receive(ctx, &st)
		r.apply(ctx, i, st)
	})
	for !done {
		sel.Select(ctx)
	}
	// Snapshots that raced the child's completion are stale; drop them.
	for r.progress.ReceiveAsync(nil) {
	}
}

// apply takes a snapshot from the environment running at index i.
func (r *release) apply(ctx workflow.Context, i int, st EnvironmentStatus) {
	cur := r.status.Environments[i]
	if st.RunID != cur.RunID || st.Revision <= cur.Revision {
		return // from another run of the same workflow ID, or overtaken
	}
	r.status.Environments[i] = st
	r.refresh(ctx)
}

// childFailed records a failed environment and returns the release's error.
func (r *release) childFailed(ctx workflow.Context, i int, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		var st EnvironmentStatus
		if appErr.HasDetails() && appErr.Details(&st) == nil && st.Name != "" {
			r.status.Environments[i] = st
		}
		return r.fail(i, appErr.Type(), appErr.Message())
	}
	return r.fail(i, ErrTypeStepFailed, fmt.Sprintf("environment %s failed: %s", r.in.Runbook.Environments[i].Name, rootMessage(err)))
}

// fail sets the release's final state from environment i's outcome.
func (r *release) fail(i int, cause, msg string) error {
	env := &r.status.Environments[i]
	if !isFinal(env.State) {
		env.State, env.Reason = StateFailed, msg
	}
	// A release is rolled back, or says its rollback is incomplete, exactly
	// as the environment that ended it does; anything else failed.
	r.status.State = env.State
	if r.status.State != StateRolledBack && r.status.State != StateRollbackIncomplete {
		r.status.State = StateFailed
	}
	r.status.Reason = fmt.Sprintf("%s: %s", env.Name, msg)
	return temporal.NewNonRetryableApplicationError(r.status.Reason, cause, nil, r.status)
}

func (r *release) markNotReached(from int) {
	for j := from; j < len(r.status.Environments); j++ {
		r.status.Environments[j].State = StateNotReached
	}
}

// refresh updates the Web UI details and search attributes.
func (r *release) refresh(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, r.status.Summary())
	state, step := r.status.State, ""
	if cur, ok := r.status.Current(); ok && !r.status.Finished() {
		step = cur.knownStep()
		if cur.Paused {
			state = StatePaused
		} else if r.glance {
			state = cur.glanceState(state)
		}
	}
	if !r.lean {
		// One upsert each, in this order: environmentAttr may record a
		// version marker between the first two.
		upsertChanged(ctx, AttrStatus, state)
		upsertChanged(ctx, AttrEnvironment, r.environmentAttr(ctx))
		upsertChanged(ctx, AttrStep, step)
		if risk := r.highestRisk(); risk != "" {
			upsertChanged(ctx, AttrRisk, risk)
		}
		return
	}
	attrs := []attr{{AttrStatus, state}, {AttrEnvironment, r.environmentAttr(ctx)}, {AttrStep, step}}
	if risk := r.highestRisk(); risk != "" {
		attrs = append(attrs, attr{AttrRisk, risk})
	}
	upsertAll(ctx, true, attrs...)
}

// highestRisk is the highest risk level assessed in any environment so
// far, "" when none was (no risk policy).
func (r *release) highestRisk() string {
	best := -1
	for _, e := range r.status.Environments {
		if e.Risk != nil {
			best = max(best, slices.Index(riskOrder, e.Risk.Level))
		}
	}
	if best < 0 {
		return ""
	}
	return riskOrder[best]
}

// lastReached is the environment the release is in, or the last one it
// reached once it has ended, so `runbook list --env` and the Web UI can
// still tell where a finished release stopped.
func (r *release) lastReached() string {
	if r.status.CurrentEnvironment != "" {
		return r.status.CurrentEnvironment
	}
	last := ""
	for _, e := range r.status.Environments {
		if e.State != StatePending && e.State != StateNotReached {
			last = e.Name
		}
	}
	return last
}

// keepLastEnvironmentChange versions keeping RunbookEnvironment at the last
// environment reached when a release ends (lastReached). Commit 8b359c8
// shipped that change without a version; before it, the release's last
// refresh unset the attribute, one more command than now.
const keepLastEnvironmentChange = "keep-last-environment"

// unsetEnvironmentBuilds are the build IDs (binary checksums) of workers
// that ran the code before 8b359c8 and completed releases whose histories
// we hold (test/testdata/histories/v0-release-*.json).
var unsetEnvironmentBuilds = []string{"99aa2aa960e8ea15f54b205bee532a14"}

// environmentAttr is the RunbookEnvironment value: lastReached, or the
// current environment ("" once ended) for a release that ends under the
// code before keepLastEnvironmentChange. The version is asked only where
// the two differ, at the end, so a release records it in its last task.
func (r *release) environmentAttr(ctx workflow.Context) string {
	last := r.lastReached()
	if last == r.status.CurrentEnvironment || r.lean || !unsetsEndedEnvironment(ctx) {
		return last
	}
	return r.status.CurrentEnvironment
}

// unsetsEndedEnvironment reports whether this task replays the code before
// keepLastEnvironmentChange. A new task records the version and keeps the
// environment. A history without the marker was written either before
// 8b359c8 (unset) or between 8b359c8 and the version (kept): both emitted
// the same commands up to this point, so only the build ID of the worker
// that completed this task, which the SDK keeps deterministic for replay,
// tells them apart. Unlisted builds keep, as the code since 8b359c8 did.
func unsetsEndedEnvironment(ctx workflow.Context) bool {
	if workflow.GetVersion(ctx, keepLastEnvironmentChange, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		return false
	}
	return slices.Contains(unsetEnvironmentBuilds, workflow.GetInfo(ctx).GetCurrentBuildID())
}

func (r *release) audit(ctx workflow.Context, action, actor, outcome, detail string) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	r.auditSeq++
	info := workflow.GetInfo(ctx).WorkflowExecution
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID:      fmt.Sprintf("%s/%s/%d", info.ID, info.RunID, r.auditSeq),
		Time:    workflow.Now(ctx).UTC(),
		Actor:   actor,
		Action:  action,
		Release: info.ID, Service: r.in.Runbook.Service, Version: r.in.Version,
		Outcome: outcome, Detail: detail,
		Digest: r.in.Digest, Commit: commitOf(r.in.Build), BreakGlass: r.in.BreakGlass != nil,
	}}, &r.auditPending)
}

// lockedMessage explains why an environment could not start: another live
// release holds its workflow ID.
func lockedMessage(wfID, env string, err error) string {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return fmt.Sprintf("environment %s is locked by another live release (workflow %s); wait for it or abort it", env, wfID)
	}
	return fmt.Sprintf("could not start environment %s: %s", env, rootMessage(err))
}

// commitOf is the build's commit, "" without build metadata.
func commitOf(b *BuildInfo) string {
	if b == nil {
		return ""
	}
	return b.Commit
}
