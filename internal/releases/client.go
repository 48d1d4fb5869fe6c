package releases

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/workflows"
)

// Client starts and steers releases.
type Client struct {
	Temporal  client.Client
	Namespace string
	TaskQueue string
	// UIURL is the Web UI base URL, for links.
	UIURL string
	// Signer signs deploys and decisions (the CLI's SSH key or ID token);
	// nil sends them unsigned, which only unsigned environments accept.
	Signer identity.Signer
	// ReportLink, when set, is a signed link to a release's report on the
	// worker, for the Web UI's details of the releases this client starts
	// (the CLI sets it when RUNBOOK_REPORTS_URL and RUNBOOK_REPORTS_TOKEN
	// are in its environment). The link opens for a week.
	ReportLink func(id string) string
	// DataConverter decodes the payloads the client reads itself rather
	// than through the SDK (a history's first event, heartbeat details, a
	// schedule's memo): the Temporal client's own, so encrypted payloads
	// decode. Nil is the SDK's default.
	DataConverter converter.DataConverter
	// Finals, when set, keeps the final status of each ended release the
	// client reads for DORA, so a long-lived process reads each once.
	Finals *FinalCache
}

// dataConverter is c.DataConverter or the SDK's default.
func (c *Client) dataConverter() converter.DataConverter {
	if c.DataConverter == nil {
		return converter.GetDefaultDataConverter()
	}
	return c.DataConverter
}

// SplitTarget splits "ID@ENV", which addresses one environment of a
// release (one of a wave's, running in parallel), into ID and ENV.
func SplitTarget(id string) (string, string) {
	if i := strings.LastIndex(id, "@"); i > 0 {
		return id[:i], id[i+1:]
	}
	return id, ""
}

// pickEnvironment is environment only of st, or the current one.
func pickEnvironment(st workflows.ReleaseStatus, only string) (workflows.EnvironmentStatus, bool) {
	if only == "" {
		return st.Current()
	}
	for _, e := range st.Environments {
		if e.Name == only {
			return e, true
		}
	}
	return workflows.EnvironmentStatus{}, false
}

// NormalizeID accepts "release/svc/ver", "rollback/svc/env/n",
// "train/TRAIN/NAME/svc/env" (a train's release) or "svc/ver" and returns
// the workflow ID.
func NormalizeID(id string) string {
	if strings.HasPrefix(id, "release/") || strings.HasPrefix(id, "rollback/") || strings.HasPrefix(id, "train/") {
		return id
	}
	return "release/" + id
}

// Link returns the Web UI address of a workflow run (the latest run when
// runID is empty).
func (c *Client) Link(workflowID, runID string) string {
	link := fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(c.UIURL, "/"),
		url.PathEscape(c.Namespace), url.PathEscape(workflowID))
	if runID != "" {
		link += "/" + url.PathEscape(runID) + "/history"
	}
	return link
}

// Deploy starts a release. It refuses, naming the running release, when
// another live release of the service holds one of the environments.
func (c *Client) Deploy(ctx context.Context, in workflows.ReleaseInput) (client.WorkflowRun, error) {
	return c.deployAs(ctx, workflows.ReleaseID(in.Runbook.Service, in.Version), in)
}

// deployAs starts release in under the workflow ID id.
func (c *Client) deployAs(ctx context.Context, id string, in workflows.ReleaseInput) (client.WorkflowRun, error) {
	rb := in.Runbook
	if in.UIURL == "" {
		in.UIURL = c.UIURL
	}
	if in.Lean == 0 {
		in.Lean = workflows.LeanMax
	}
	for _, env := range rb.Environments {
		if err := c.checkEnvironmentFree(ctx, rb.Service, env.Name); err != nil {
			return nil, err
		}
	}
	if err := c.signDeploy(ctx, id, &in); err != nil {
		return nil, err
	}
	run, err := c.start(ctx, id, in)
	if isMissingSearchAttribute(err) {
		// A fresh namespace: register the attributes (the worker does this
		// too at start) and try once more.
		if regErr := EnsureSearchAttributes(ctx, c.Temporal, c.Namespace); regErr != nil {
			return nil, fmt.Errorf("namespace %s lacks runbook's search attributes and registering them failed: %w; "+
				"register them once with `temporal operator search-attribute create` (names: %s, type Keyword)",
				c.Namespace, regErr, strings.Join(workflows.SearchAttributeNames, ", "))
		}
		run, err = c.start(ctx, id, in)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("%s was already released or is running; ship a new version, or see `runbook status %s`", id, id)
	}
	if err != nil {
		return nil, fmt.Errorf("start release %s: %w", id, err)
	}
	return run, nil
}

// start starts the Release workflow with its ID policy, summary and
// search attributes.
func (c *Client) start(ctx context.Context, id string, in workflows.ReleaseInput) (client.WorkflowRun, error) {
	return c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: c.TaskQueue,
		// A failed release of a version may be retried; a succeeded one not:
		// ship a new version instead.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            summaryOf(in),
		StaticDetails:            detailsOf(id, in, c.reportLink(id)),
		TypedSearchAttributes:    temporal.NewSearchAttributes(releaseAttrs(in)...),
	}, workflows.ReleaseWorkflowName, in)
}

// isMissingSearchAttribute recognises the server's refusal of a start whose
// search attributes are not registered in the namespace.
func isMissingSearchAttribute(err error) bool {
	var invalid *serviceerror.InvalidArgument
	return errors.As(err, &invalid) && strings.Contains(invalid.Error(), "search attribute")
}

// checkEnvironmentFree refuses early, with a useful name, when another
// release is live in the environment. The workflow enforces the same rule
// through the environment's workflow ID, so a race is still refused.
func (c *Client) checkEnvironmentFree(ctx context.Context, service, env string) error {
	id := workflows.EnvironmentID(service, env)
	d, err := c.Temporal.DescribeWorkflow(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check environment %s: %w", env, err)
	}
	info := d.RawResponse.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil
	}
	owner := id
	if p := info.GetParentExecution(); p != nil {
		owner = p.GetWorkflowId()
	}
	return fmt.Errorf("%s is already being released to %s by %s (workflow %s); wait for it to finish or abort it: runbook abort %s",
		service, env, owner, id, owner)
}

func envNames(in workflows.ReleaseInput) string {
	names := make([]string, len(in.Runbook.Environments))
	for i, e := range in.Runbook.Environments {
		names[i] = e.Name
	}
	return strings.Join(names, " → ")
}

// Status queries the release's status, with the running environment's
// own, newer status when it has one.
func (c *Client) Status(ctx context.Context, id string) (workflows.ReleaseStatus, error) {
	st, err := c.releaseStatus(ctx, NormalizeID(id))
	if err == nil && !st.Finished() {
		c.addLiveEnvironment(ctx, &st)
		c.addLiveRounds(ctx, &st)
	}
	return st, err
}

// releaseStatus is the release workflow's answer to the status query alone.
func (c *Client) releaseStatus(ctx context.Context, id string) (workflows.ReleaseStatus, error) {
	v, err := c.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return workflows.ReleaseStatus{}, fmt.Errorf("no release %s: list releases with `runbook list`", id)
		}
		var deadline *serviceerror.DeadlineExceeded
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &deadline) {
			return workflows.ReleaseStatus{}, c.unanswered(id)
		}
		return workflows.ReleaseStatus{}, fmt.Errorf("query %s: %w", id, err)
	}
	var st workflows.ReleaseStatus
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of %s: %w", id, err)
	}
	return st, nil
}

// unanswered says why the status query of release id went unanswered: a
// worker that polls the task queue but did not answer in time (busy with
// many releases, or stuck) needs other help than no worker at all.
func (c *Client) unanswered(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Temporal.DescribeTaskQueue(ctx, c.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err == nil {
		// The server lists the pollers of the last few minutes; one that
		// polled within a long poll's span is polling still.
		for _, p := range resp.GetPollers() {
			if at := p.GetLastAccessTime(); at != nil && time.Since(at.AsTime()) < pollerFresh {
				return fmt.Errorf("the status query of %s was not answered in time, though worker %s polls task queue %s: it is busy (many releases in flight?) or stuck; try again, and if it goes on, see its /metrics (temporal_workflow_task_schedule_to_start_latency) or add a worker",
					id, p.GetIdentity(), c.TaskQueue)
			}
		}
	}
	return fmt.Errorf("no worker answered the status query of %s: is a worker running on task queue %s? start one with `runbook worker` (or `runbook dev`)", id, c.TaskQueue)
}

// pollerFresh is how recently a poller must have polled to count as
// polling: a long poll lasts about a minute before the worker polls again.
const pollerFresh = 90 * time.Second

// Wait blocks until the release ends and returns its final status.
func (c *Client) Wait(ctx context.Context, id string) (workflows.ReleaseStatus, error) {
	id = NormalizeID(id)
	var res workflows.ReleaseResult
	err := c.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res)
	if err == nil {
		return res.Status, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		var st workflows.ReleaseStatus
		if appErr.Details(&st) == nil && st.ReleaseID != "" {
			return st, nil
		}
	}
	// Terminated, timed out or cancelled without our details: ask the query.
	if st, qerr := c.Status(ctx, id); qerr == nil {
		if !st.Finished() {
			st.State, st.Reason = workflows.StateFailed, err.Error()
		}
		return st, nil
	}
	return workflows.ReleaseStatus{}, fmt.Errorf("release %s: %w", id, err)
}

// Decide sends an approve or reject Update to the environment whose gate is
// waiting. Invalid decisions are refused by the workflow's validator.
func (c *Client) Decide(ctx context.Context, id string, approve bool, in workflows.DecisionInput) (workflows.DecisionResult, error) {
	id, only := SplitTarget(id)
	// The release's copy of its environments names the run and its waiting
	// gate (a gate opening is a phase the environment reports at once):
	// the environment is asked too only when the copy names no single
	// waiting gate, so a decision costs the worker one query, not two.
	st, err := c.releaseStatus(ctx, NormalizeID(id))
	if err != nil {
		return workflows.DecisionResult{}, err
	}
	env, err := envForDecision(st, in.Gate, only)
	if err == nil && in.Gate == "" && len(env.PendingGates()) != 1 {
		c.addLiveEnvironment(ctx, &st)
		env, err = envForDecision(st, in.Gate, only)
	}
	if err != nil {
		return workflows.DecisionResult{}, err
	}
	name := workflows.UpdateReject
	if approve {
		name = workflows.UpdateApprove
	}
	in.Gate = waitingGate(env, in.Gate)
	if in.Proof, err = c.sign(ctx, workflows.DecisionClaim(env.WorkflowID, env.RunID, approve, in), in.Actor); err != nil {
		return workflows.DecisionResult{}, err
	}
	var res workflows.DecisionResult
	return res, c.update(ctx, env, name, in, &res)
}

// Control sends pause, resume or abort to the running environment.
func (c *Client) Control(ctx context.Context, id, update string, in workflows.ControlInput) (workflows.ControlResult, error) {
	var res workflows.ControlResult
	id, only := SplitTarget(id)
	st, err := c.Status(ctx, id)
	if err != nil {
		return res, err
	}
	if st.Finished() {
		return res, fmt.Errorf("release %s is %s; there is nothing to %s", st.ReleaseID, st.State, update)
	}
	targets := runningEnvironments(st)
	if update == workflows.UpdateAbort && st.Soak != nil && len(targets) == 0 && only == "" {
		return c.abortSoak(ctx, st, in)
	}
	if only != "" || len(targets) < 2 {
		env, ok := pickEnvironment(st, only)
		if !ok {
			return res, fmt.Errorf("release %s has no environment running to %s (it is %s)", st.ReleaseID, update, st.State)
		}
		targets = []workflows.EnvironmentStatus{env}
	}
	// A wave runs several environments at once: the release's control
	// reaches each of them, each decision signed for its own workflow.
	var errs []error
	for _, env := range targets {
		one := in
		if one.Proof, err = c.sign(ctx, workflows.ControlClaim(env.WorkflowID, env.RunID, update, one), one.Actor); err != nil {
			return res, err
		}
		if err := c.update(ctx, env, update, one, &res); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", env.Name, err))
		}
	}
	return res, errors.Join(errs...)
}

// abortSoak aborts a release that soaks between two environments: no
// environment runs, so the release itself takes the (signed) abort.
func (c *Client) abortSoak(ctx context.Context, st workflows.ReleaseStatus, in workflows.ControlInput) (workflows.ControlResult, error) {
	var res workflows.ControlResult
	desc, err := c.Temporal.DescribeWorkflow(ctx, st.ReleaseID, "")
	if err != nil {
		return res, fmt.Errorf("release %s: %w", st.ReleaseID, err)
	}
	runID := desc.WorkflowExecution.RunID
	if in.Proof, err = c.sign(ctx, workflows.ControlClaim(st.ReleaseID, runID, workflows.UpdateAbort, in), in.Actor); err != nil {
		return res, err
	}
	return res, c.update(ctx, workflows.EnvironmentStatus{Name: "release", WorkflowID: st.ReleaseID, RunID: runID}, workflows.UpdateAbort, in, &res)
}

// runningEnvironments are the environments of st running now.
func runningEnvironments(st workflows.ReleaseStatus) []workflows.EnvironmentStatus {
	var out []workflows.EnvironmentStatus
	for _, e := range st.Environments {
		if e.RunID != "" && e.State != workflows.StatePending && e.State != workflows.StateNotReached && !isFinalState(e.State) {
			out = append(out, e)
		}
	}
	return out
}

// update sends an Update to an environment workflow and waits for its result.
func (c *Client) update(ctx context.Context, env workflows.EnvironmentStatus, name string, arg, result any) error {
	if env.RunID == "" {
		return fmt.Errorf("environment %s has not started yet; try again in a moment", env.Name)
	}
	opts := client.UpdateWorkflowOptions{
		UpdateID:   updateID(),
		WorkflowID: env.WorkflowID, RunID: env.RunID, UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	var err error
	for attempt := 1; ; attempt++ {
		var h client.WorkflowUpdateHandle
		if h, err = c.Temporal.UpdateWorkflow(ctx, opts); err == nil {
			err = h.Get(ctx, result)
		}
		var notReady *serviceerror.WorkflowNotReady
		if !errors.As(err, &notReady) || attempt == updateAttempts {
			break
		}
		// The workflow task that carried it failed without running it: the
		// workflow tried to close while an event it had not seen arrived
		// (a progress signal's acknowledgement, as a gate opens). The next
		// task sees it; the same Update ID keeps the retry from counting
		// twice.
		select {
		case <-ctx.Done():
			return refused(name, ctx.Err())
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
	if err != nil {
		return refused(name, err)
	}
	return nil
}

// updateAttempts bounds the tries of an Update whose workflow task failed
// before it ran (serviceerror.WorkflowNotReady).
const updateAttempts = 4

// updateID names an Update once for all its tries.
func updateID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// refused strips Temporal's wrapping so the person sees the validator's
// sentence, which says what to do.
func refused(name string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return fmt.Errorf("%s refused: %s", name, appErr.Message())
	}
	return fmt.Errorf("%s refused: %w", name, err)
}

// envForDecision picks the environment a decision is for: the one with the
// named gate waiting, else the current one.
func envForDecision(st workflows.ReleaseStatus, gate, only string) (workflows.EnvironmentStatus, error) {
	if st.Finished() {
		return workflows.EnvironmentStatus{}, fmt.Errorf("release %s is %s; there is nothing to decide", st.ReleaseID, st.State)
	}
	if only != "" {
		e, ok := pickEnvironment(st, only)
		if !ok {
			return e, fmt.Errorf("release %s has no environment %s", st.ReleaseID, only)
		}
		return e, nil
	}
	if gate != "" {
		for _, e := range st.Environments {
			for _, g := range e.PendingGates() {
				if g.Name == gate {
					return e, nil
				}
			}
		}
	}
	env, ok := st.Current()
	if !ok {
		return env, fmt.Errorf("release %s has no running environment yet; try again in a moment", st.ReleaseID)
	}
	return env, nil
}

// ResolveMigration sends a decision on a failed migration to the running
// environment.
func (c *Client) ResolveMigration(ctx context.Context, id string, in workflows.MigrationDecisionInput) (workflows.MigrationDecisionResult, error) {
	var res workflows.MigrationDecisionResult
	st, err := c.Status(ctx, id)
	if err != nil {
		return res, err
	}
	env, ok := st.Current()
	if !ok || st.Finished() {
		return res, fmt.Errorf("release %s is %s; no migration waits for a decision", st.ReleaseID, st.State)
	}
	if in.Proof, err = c.sign(ctx, workflows.MigrationClaim(env.WorkflowID, env.RunID, in), in.Actor); err != nil {
		return res, err
	}
	return res, c.update(ctx, env, workflows.UpdateResolveMigration, in, &res)
}

// summaryOf is the release's one line in the Web UI's list; an emergency
// release says so first.
func summaryOf(in workflows.ReleaseInput) string {
	s := fmt.Sprintf("%s %s by %s: %s", in.Runbook.Service, in.Version, in.Requester, envNames(in))
	if in.BreakGlass != nil {
		s = "BREAK-GLASS " + s + " — " + in.BreakGlass.Reason
	}
	if r := in.Rollback; r != nil {
		s = fmt.Sprintf("ROLLBACK %s %s → %s by %s: %s (of %s) — %s", in.Runbook.Service, r.FromVersion, in.Version, in.Requester, envNames(in), r.Of, r.Reason)
	}
	return s
}

// releaseAttrs are the search attributes a release starts with, the same
// a scheduled release's child starts with.
func releaseAttrs(in workflows.ReleaseInput) []temporal.SearchAttributeUpdate {
	return workflows.ReleaseSearchAttributes(in)
}
