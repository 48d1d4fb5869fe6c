package workflows

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// recordStatusAttr captures every RunbookStatus value the workflows upsert.
func recordStatusAttr(h *harness) func() []string {
	var mu sync.Mutex
	var values []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if v, ok := sa.GetKeyword(AttrStatus); ok {
			mu.Lock()
			values = append(values, v)
			mu.Unlock()
		}
	}).Return(nil)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), values...)
	}
}

func TestReleaseRunsEnvironmentsInOrder(t *testing.T) {
	h := newHarness(t)
	statusAttr := recordStatusAttr(h)
	url := func(p string) string { return h.srv.url("/${environment}/" + p + "?version=${version}") }
	h.runRelease(releaseInput(rb(
		envSpec("staging", check("health", url("health")), check("smoke", url("smoke"))),
		envSpec("production", check("health", url("health")), check("smoke", url("smoke"))),
	)))

	require.NoError(t, h.env.GetWorkflowError())
	var res ReleaseResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	st := res.Status
	require.Equal(t, StateSucceeded, st.State)
	require.Equal(t, testReleaseID, st.ReleaseID)
	require.Equal(t, testRequester, st.Requester)
	require.Equal(t, testVersion, st.Version)
	require.Equal(t, testDigest, st.Digest)
	require.Empty(t, st.CurrentEnvironment)
	require.False(t, st.EndedAt.IsZero())
	require.True(t, st.Finished())

	require.Len(t, st.Environments, 2)
	for i, name := range []string{"staging", "production"} {
		e := st.Environments[i]
		require.Equal(t, name, e.Name)
		require.Equal(t, StateSucceeded, e.State, "environment %s", name)
		require.Equal(t, EnvironmentID(testService, name), e.WorkflowID)
		require.NotEmpty(t, e.RunID)
		require.Equal(t, []string{BuiltinArtifact + "=succeeded", "health=succeeded", "smoke=succeeded"}, stepStates(e))
		for _, s := range e.Steps {
			require.False(t, s.StartedAt.IsZero(), "%s/%s has no start time", name, s.Name)
			require.False(t, s.EndedAt.IsZero(), "%s/%s has no end time", name, s.Name)
			require.False(t, s.EndedAt.Before(s.StartedAt), "%s/%s ended before it started", name, s.Name)
		}
		require.Contains(t, step(t, e, "health").Detail, "answered 200")
		require.Contains(t, step(t, e, BuiltinArtifact).Detail, testDigest)
	}
	staging, production := st.Environments[0], st.Environments[1]
	require.False(t, production.StartedAt.Before(staging.EndedAt), "production started before staging ended")

	// The server saw staging's requests, all of them, before production's.
	require.Equal(t, []string{
		"GET /staging/health", "GET /staging/smoke",
		"GET /production/health", "GET /production/smoke",
	}, h.srv.requests())
	for _, hit := range h.srv.all() {
		require.Equal(t, "version="+testVersion, hit.Query, "${version} is expanded")
	}

	actions := h.auditActions()
	require.Equal(t, "release.started running", actions[0])
	require.Equal(t, "release.finished succeeded", actions[len(actions)-1])
	iStaging := slices.Index(actions, "environment.finished succeeded")
	require.Positive(t, iStaging)
	require.Equal(t, 2, count(actions, "environment.finished succeeded"))
	require.Equal(t, 2, count(actions, "step.succeeded health succeeded"))
	var envOrder []string
	for _, e := range h.auditEntries() {
		if e.Action == "environment.started" {
			envOrder = append(envOrder, e.Environment)
		}
		require.Equal(t, testReleaseID, e.Release, "record %s", e.Action)
		require.Equal(t, testService, e.Service)
		require.Equal(t, testVersion, e.Version)
	}
	require.Equal(t, []string{"staging", "production"}, envOrder)
	h.verifyAudit()

	// Search attributes: the release's last RunbookStatus is succeeded.
	vals := statusAttr()
	require.NotEmpty(t, vals)
	require.Contains(t, vals, StateRunning)
	require.Equal(t, StateSucceeded, vals[len(vals)-1], "RunbookStatus upserts: %v", vals)
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestReleaseStopsAtFailedEnvironment(t *testing.T) {
	h := newHarness(t)
	statusAttr := recordStatusAttr(h)
	h.failPath("/staging/smoke", "connection refused")
	h.runRelease(releaseInput(rb(
		envSpec("staging",
			undo(check("deploy", h.srv.url("/staging/deploy")), h.srv.url("/staging/undo")),
			check("smoke", h.srv.url("/staging/smoke"))),
		envSpec("production", check("deploy", h.srv.url("/production/deploy"))),
	)))

	appErr := h.failedWith(ErrTypeStepFailed)
	require.Contains(t, appErr.Error(), "staging: step smoke failed: connection refused")
	var st ReleaseStatus
	require.NoError(t, appErr.Details(&st))
	require.Equal(t, StateRolledBack, st.State)
	require.True(t, strings.HasPrefix(st.Reason, "staging: "), st.Reason)
	require.Equal(t, StateRolledBack, st.Environments[0].State)
	require.Equal(t, StateNotReached, st.Environments[1].State)
	require.Equal(t, []string{BuiltinArtifact + "=succeeded", "deploy=compensated", "smoke=failed"}, stepStates(st.Environments[0]))
	require.Equal(t, []string{"GET /staging/deploy", "POST /staging/undo"}, h.srv.requests(), "production never ran")
	require.Equal(t, "release.finished rolled-back", last(h.auditActions()))
	require.Equal(t, StateRolledBack, last(statusAttr()), "RunbookStatus shows the outcome")
	h.verifyAudit()
}

func last(xs []string) string { return xs[len(xs)-1] }

func TestCancelledReleaseRollsBackEnvironment(t *testing.T) {
	h := newHarness(t)
	h.at(time.Hour, func() { h.env.CancelWorkflow() })
	h.runRelease(releaseInput(rb(envSpec("staging",
		undo(check("deploy", h.srv.url("/staging/deploy")), h.srv.url("/staging/undo")),
		gateStep("sign-off", 1, "carol"),
		check("smoke", h.srv.url("/staging/smoke")),
	))))

	appErr := h.failedWith(ErrTypeAborted)
	require.Contains(t, appErr.Error(), "staging: aborted by temporal: workflow cancelled")
	var st ReleaseStatus
	require.NoError(t, appErr.Details(&st))
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, []string{BuiltinArtifact + "=succeeded", "deploy=compensated", "sign-off=interrupted", "smoke=not-reached"},
		stepStates(st.Environments[0]))
	require.Equal(t, []string{"GET /staging/deploy", "POST /staging/undo"}, h.srv.requests(),
		"cancelling the release rolls the environment back")
	actions := h.auditActions()
	require.Contains(t, actions, "rollback.started rolling-back")
	require.Contains(t, actions, "compensation.ran deploy done")
	require.Contains(t, actions, "environment.finished rolled-back")
	h.verifyAudit()
}

// Every environment checks the artifact against the release's digest first;
// a changed artifact stops the environment before any of its steps.
func TestArtifactDigestMismatchStopsEnvironment(t *testing.T) {
	h := newHarness(t)
	in := envInput(envSpec("production", check("deploy", h.srv.url("/deploy"))))
	in.Artifact.Digest = "sha256:" + strings.Repeat("0", 64)
	h.runEnvironment(in)

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Contains(t, appErr.Message(), "step "+BuiltinArtifact+" failed")
	require.Contains(t, appErr.Message(), "has digest "+testDigest)
	require.Equal(t, StateFailed, step(t, st, BuiltinArtifact).State)
	require.Equal(t, StateNotReached, step(t, st, "deploy").State)
	require.Empty(t, h.srv.requests())
}

// applyWorkflow feeds progress snapshots to a release, as signals would.
func applyWorkflow(ctx workflow.Context, snaps []EnvironmentStatus) (EnvironmentStatus, error) {
	r := &release{status: ReleaseStatus{Environments: []EnvironmentStatus{{Name: "staging", RunID: "run-1"}}}}
	for _, s := range snaps {
		r.apply(ctx, 0, s)
	}
	return r.status.Environments[0], nil
}

// Signals between workflows may arrive out of order: the release keeps the
// newest snapshot of the current run and ignores other runs.
func TestReleaseKeepsNewestSnapshot(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterWorkflow(applyWorkflow)
	snap := func(run string, rev int64, step string) EnvironmentStatus {
		return EnvironmentStatus{Name: "staging", RunID: run, Revision: rev, CurrentStep: step}
	}
	h.env.ExecuteWorkflow(applyWorkflow, []EnvironmentStatus{
		snap("run-1", 1, "a"), snap("run-1", 3, "c"), snap("run-1", 2, "b"),
		snap("run-0", 9, "old run"), snap("run-1", 3, "c again"),
	})
	require.NoError(t, h.env.GetWorkflowError())
	var got EnvironmentStatus
	require.NoError(t, h.env.GetWorkflowResult(&got))
	require.Equal(t, int64(3), got.Revision)
	require.Equal(t, "c", got.CurrentStep)
}
