package workflows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/activities/history"
	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/activities/trust"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/telemetry"
	"github.com/runbookhq/runbook/runbooks"
)

// Shared fixtures of the workflow tests.
const (
	testService   = "checkout"
	testVersion   = "1.4.2"
	testRequester = "dave"
	testReleaseID = "release/checkout/1.4.2"
)

// The artifact every test releases: a small file written per test.
const (
	testArtifactContent = "checkout 1.4.2 build\n"
	// artifactPlaceholder is replaced by the test's artifact file when run.
	artifactPlaceholder = "test-artifact"
)

var testDigest = func() string {
	sum := sha256.Sum256([]byte(testArtifactContent))
	return "sha256:" + hex.EncodeToString(sum[:])
}()

// --- the HTTP server every http-check step and hook talks to ---------------

// hit is one request the test server received.
type hit struct {
	Method, Path, Query, IdempotencyKey string
}

func (h hit) String() string { return h.Method + " " + h.Path }

// recorder is an httptest server that records requests in arrival order and
// answers 200 unless told otherwise for a path.
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	hits   []hit
	status map[string]int
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{status: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, hit{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
			IdempotencyKey: req.Header.Get("Idempotency-Key")})
		code, ok := r.status[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "ok "+req.URL.Path)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) url(path string) string { return r.srv.URL + path }

// answer makes the server answer code on path from now on.
func (r *recorder) answer(path string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[path] = code
}

// requests returns "METHOD /path" of every request so far, in order.
func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.hits))
	for i, h := range r.hits {
		out[i] = h.String()
	}
	return out
}

func (r *recorder) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// --- the test harness -----------------------------------------------------

// harness is one test workflow environment with a real audit log, the real
// httpcheck activity against a recorder, and a mocked artifact check.
type harness struct {
	t         *testing.T
	env       *testsuite.TestWorkflowEnvironment
	srv       *recorder
	auditPath string
	auditLog  *audit.Log
	realHTTP  *httpcheck.Activities
	// artifactPath is the file the real VerifyArtifact activity checks.
	artifactPath string

	// intercept, when set, may answer an HTTPCheck instead of the server.
	intercept func(ctx context.Context, in httpcheck.HTTPCheckInput) (httpcheck.HTTPCheckResult, error, bool)
	// httpCalls lists the URL of every HTTPCheck activity call, in order.
	mu        sync.Mutex
	httpCalls []string
	// unblock releases activities that block until cancelled (the testsuite
	// does not cancel an activity's context when the workflow cancels it).
	unblock chan struct{}
	// updates numbers Update IDs (the testsuite needs them for children).
	updates int
	// freezes is what the ListFreezes activity returns; freezesDown makes
	// it fail instead, and counts the reads refused.
	freezes     []freezes.Freeze
	freezesDown bool
	refused     int
	// previous is what the PreviousRelease activity returns.
	previous history.PreviousReleaseResult
	// roots are what the LoadTrustRoots activity returns.
	roots identity.Roots
	// metrics records what the workflows and activities measure.
	metrics *telemetry.Registry
}

// setFreezes replaces the freezes the environments read.
func (h *harness) setFreezes(fs ...freezes.Freeze) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.freezes = fs
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	reg := telemetry.New()
	suite.SetMetricsHandler(reg.Handler())
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	h := &harness{t: t, env: env, srv: newRecorder(t), unblock: make(chan struct{}), metrics: reg}
	t.Cleanup(func() { close(h.unblock) })

	h.auditPath = filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	l, err := audit.Open(h.auditPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	h.auditLog = l

	h.realHTTP = &httpcheck.Activities{Client: h.srv.srv.Client()}
	env.RegisterWorkflow(Release)
	env.RegisterWorkflow(Environment)
	env.RegisterWorkflow(Freezes)
	env.RegisterActivity(&audit.Activities{Log: l})
	env.RegisterActivity(h.realHTTP)
	env.RegisterActivity(&artifact.Activities{})
	// The freezes come from the test, under the real activity's name.
	env.RegisterActivityWithOptions(func(context.Context, freezes.ListFreezesInput) (freezes.ListFreezesResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.freezesDown {
			h.refused++
			return freezes.ListFreezesResult{}, errors.New("query the Freezes workflow: no worker polls runbook-freezes")
		}
		return freezes.ListFreezesResult{Freezes: h.freezes}, nil
	}, activity.RegisterOptions{Name: "ListFreezes"})
	env.RegisterActivityWithOptions(func(context.Context, history.PreviousReleaseInput) (history.PreviousReleaseResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.previous, nil
	}, activity.RegisterOptions{Name: "PreviousRelease"})
	// The trust roots come from the test (h.roots), under the real name.
	env.RegisterActivityWithOptions(func(context.Context, trust.LoadInput) (identity.Roots, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.roots, nil
	}, activity.RegisterOptions{Name: "LoadTrustRoots"})
	h.artifactPath = filepath.Join(t.TempDir(), "checkout-1.4.2.tar.gz")
	require.NoError(t, os.WriteFile(h.artifactPath, []byte(testArtifactContent), 0o600))
	return h
}

func (h *harness) artifactRef(a runbooks.Artifact) runbooks.Artifact {
	if a.Reference == artifactPlaceholder {
		a.Reference = "file://" + h.artifactPath
	}
	return a
}

// installHTTP routes HTTPCheck through the intercept hook, then to the real
// activity. It must come after any more specific OnActivity mock.
func (h *harness) installHTTP() {
	// Held environments register with the Freezes workflow, which is not
	// part of these tests.
	h.env.OnSignalExternalWorkflow(mock.Anything, freezes.WorkflowID, "", freezes.SignalWatch, mock.Anything).Return(nil).Maybe()
	h.env.OnActivity(httpActs.HTTPCheck, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in httpcheck.HTTPCheckInput) (httpcheck.HTTPCheckResult, error) {
			h.mu.Lock()
			h.httpCalls = append(h.httpCalls, in.URL)
			h.mu.Unlock()
			if h.intercept != nil {
				if res, err, ok := h.intercept(ctx, in); ok {
					return res, err
				}
			}
			return h.realHTTP.HTTPCheck(ctx, in)
		})
}

// failPath makes HTTPCheck calls whose URL ends in suffix fail without retry
// (and without reaching the server).
func (h *harness) failPath(suffix, msg string) {
	prev := h.intercept
	h.intercept = func(ctx context.Context, in httpcheck.HTTPCheckInput) (httpcheck.HTTPCheckResult, error, bool) {
		if strings.HasSuffix(in.URL, suffix) {
			return httpcheck.HTTPCheckResult{}, temporal.NewNonRetryableApplicationError(msg, "HTTPCheckInvalid", nil), true
		}
		if prev != nil {
			return prev(ctx, in)
		}
		return httpcheck.HTTPCheckResult{}, nil, false
	}
}

// blockPath makes HTTPCheck calls whose URL ends in suffix block until their
// context is done (or the test ends), like a long step that honours cancel.
func (h *harness) blockPath(suffix string) {
	prev := h.intercept
	h.intercept = func(ctx context.Context, in httpcheck.HTTPCheckInput) (httpcheck.HTTPCheckResult, error, bool) {
		if strings.HasSuffix(in.URL, suffix) {
			select {
			case <-ctx.Done():
				return httpcheck.HTTPCheckResult{}, ctx.Err(), true
			case <-h.unblock:
				return httpcheck.HTTPCheckResult{}, errors.New("test over"), true
			}
		}
		if prev != nil {
			return prev(ctx, in)
		}
		return httpcheck.HTTPCheckResult{}, nil, false
	}
}

func (h *harness) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.httpCalls...)
}

func (h *harness) runRelease(in ReleaseInput) {
	h.installHTTP()
	in.Runbook.Artifact = h.artifactRef(in.Runbook.Artifact)
	h.env.SetStartWorkflowOptions(clientStartOptions(ReleaseID(in.Runbook.Service, in.Version)))
	h.env.ExecuteWorkflow(Release, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "release did not complete")
}

func (h *harness) runEnvironment(in EnvironmentInput) {
	h.installHTTP()
	in.Artifact = h.artifactRef(in.Artifact)
	h.env.SetStartWorkflowOptions(clientStartOptions(EnvironmentID(in.Service, in.Env.Name)))
	h.env.ExecuteWorkflow(Environment, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "environment did not complete")
}

func clientStartOptions(id string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: DefaultTaskQueue}
}

// at runs fn when the workflow clock has advanced by d (timers are skipped).
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// --- Updates and queries ----------------------------------------------------

// updateOutcome records what the testsuite reported for one Update.
type updateOutcome struct {
	accepted  bool
	rejected  error
	completed bool
	result    any
	err       error
}

func callbacks(o *updateOutcome) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept:   func() { o.accepted = true },
		OnReject:   func(err error) { o.rejected = err },
		OnComplete: func(r any, err error) { o.completed, o.result, o.err = true, r, err },
	}
}

// update sends an Update to the workflow started by ExecuteWorkflow.
func (h *harness) update(name string, arg any) *updateOutcome {
	o := &updateOutcome{}
	h.env.UpdateWorkflow(name, "", callbacks(o), arg)
	return o
}

// updateEnv sends an Update to an environment child workflow.
func (h *harness) updateEnv(env, name string, arg any) *updateOutcome {
	o := &updateOutcome{}
	h.updates++
	id := fmt.Sprintf("%s-%d", name, h.updates)
	require.NoError(h.t, h.env.UpdateWorkflowByID(EnvironmentID(testService, env), name, id, callbacks(o), arg))
	return o
}

// requireRejected asserts the Update was refused with a message containing want.
func requireRejected(t *testing.T, o *updateOutcome, want string) {
	t.Helper()
	require.Error(t, o.rejected, "update was not rejected")
	require.Contains(t, o.rejected.Error(), want)
	require.False(t, o.accepted, "a rejected update must not be accepted")
	require.False(t, o.completed, "a rejected update must not run its handler")
}

// requireDecision asserts an approve/reject Update completed with want.
func requireDecision(t *testing.T, o *updateOutcome, want DecisionResult) {
	t.Helper()
	require.NoError(t, o.rejected)
	require.True(t, o.accepted && o.completed, "update did not complete: %+v", o)
	require.NoError(t, o.err)
	require.Equal(t, want, o.result)
}

func requireControl(t *testing.T, o *updateOutcome, state string) {
	t.Helper()
	require.NoError(t, o.rejected)
	require.True(t, o.accepted && o.completed, "update did not complete: %+v", o)
	require.NoError(t, o.err)
	require.Equal(t, ControlResult{State: state}, o.result)
}

func (h *harness) envStatus() EnvironmentStatus {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryStatus)
	require.NoError(h.t, err)
	var st EnvironmentStatus
	require.NoError(h.t, v.Get(&st))
	return st
}

func (h *harness) releaseStatus() ReleaseStatus {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryStatus)
	require.NoError(h.t, err)
	var st ReleaseStatus
	require.NoError(h.t, v.Get(&st))
	return st
}

// --- results ------------------------------------------------------------------

// failedWith asserts the workflow failed with an ApplicationError of type
// typ and returns it.
func (h *harness) failedWith(typ string) *temporal.ApplicationError {
	h.t.Helper()
	err := h.env.GetWorkflowError()
	require.Error(h.t, err)
	var appErr *temporal.ApplicationError
	require.True(h.t, errors.As(err, &appErr), "not an application error: %v", err)
	require.Equal(h.t, typ, appErr.Type(), "error: %v", err)
	require.True(h.t, appErr.NonRetryable())
	return appErr
}

// failedEnv asserts an Environment run failed with typ and returns the status
// carried in the error's details.
func (h *harness) failedEnv(typ string) (EnvironmentStatus, *temporal.ApplicationError) {
	h.t.Helper()
	appErr := h.failedWith(typ)
	var st EnvironmentStatus
	require.NoError(h.t, appErr.Details(&st))
	return st, appErr
}

func (h *harness) auditEntries() []audit.Entry {
	h.t.Helper()
	es, err := audit.Read(h.auditPath, audit.Filter{})
	require.NoError(h.t, err)
	return es
}

// auditActions returns "action step outcome" of every audit record.
func (h *harness) auditActions() []string {
	var out []string
	for _, e := range h.auditEntries() {
		parts := []string{e.Action}
		if e.Step != "" {
			parts = append(parts, e.Step)
		}
		out = append(out, strings.Join(append(parts, e.Outcome), " "))
	}
	return out
}

func (h *harness) verifyAudit() {
	h.t.Helper()
	res, err := audit.Verify(h.auditPath)
	require.NoError(h.t, err)
	require.Zero(h.t, res.BrokenSeq)
	require.Positive(h.t, res.Entries)
}

// --- runbook builders -----------------------------------------------------------

func rb(envs ...runbooks.Environment) runbooks.Runbook {
	return runbooks.Runbook{
		APIVersion: runbooks.APIVersion, Service: testService, Owner: "team-payments",
		Artifact:     runbooks.Artifact{Reference: artifactPlaceholder, Digest: testDigest},
		Environments: envs,
	}
}

// envSpec is an environment with steps. Its decisions are unsigned: most
// tests are about something else, and call their production environment
// "production" (signed by default). The trust tests set Identity.
func envSpec(name string, steps ...runbooks.Step) runbooks.Environment {
	return runbooks.Environment{Name: name, Steps: steps, Identity: runbooks.IdentityUnsigned}
}

func check(name, url string) runbooks.Step {
	return runbooks.Step{Name: name, HTTPCheck: &runbooks.HTTPCheckStep{URL: url}}
}

func undo(s runbooks.Step, url string) runbooks.Step {
	s.OnRollback = &runbooks.HTTPHook{URL: url, Method: http.MethodPost}
	return s
}

func gateStep(name string, minApprovals int, approvers ...string) runbooks.Step {
	return runbooks.Step{Name: name, Approval: &runbooks.ApprovalStep{Approvers: approvers, MinApprovals: minApprovals}}
}

func releaseInput(r runbooks.Runbook) ReleaseInput {
	return ReleaseInput{Runbook: r, Version: testVersion, Digest: testDigest, Requester: testRequester,
		RunbookFile: "runbooks/checkout.yaml"}
}

func envInput(e runbooks.Environment) EnvironmentInput {
	r := rb(e)
	return EnvironmentInput{ReleaseID: testReleaseID, Service: r.Service, Owner: r.Owner, Version: testVersion,
		Artifact: r.Artifact, Requester: testRequester, Policy: r.Policy, Env: e}
}

// step returns the named step of st, failing the test if there is none.
func step(t *testing.T, st EnvironmentStatus, name string) StepStatus {
	t.Helper()
	for _, s := range st.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %s; steps: %+v", name, st.Name, st.Steps)
	return StepStatus{}
}

func stepStates(st EnvironmentStatus) []string {
	out := make([]string, len(st.Steps))
	for i, s := range st.Steps {
		out[i] = s.Name + "=" + s.State
	}
	return out
}

// abortMidCall returns a hook for a fake activity: the first time it runs it
// blocks until the abort Update was sent, so the abort lands at exactly that
// moment of the call. (The blocked activity keeps the testsuite from
// skipping time: the abort goes out in wall time, while the call waits.)
func (h *harness) abortMidCall(reason string) func() {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.at(500*time.Millisecond, func() {
		<-started
		h.update(UpdateAbort, ControlInput{Actor: "erin", Reason: reason})
		close(release)
	})
	return func() {
		once.Do(func() {
			close(started)
			<-release
		})
	}
}
