package workflows

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/runbooks"
)

var watchStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// watchHarness runs a Watch against the recorder with a fake
// WatchJourneyFailed that answers action and records every call.
type watchHarness struct {
	*harness
	mu     sync.Mutex
	failed []WatchFailedInput
	action string
}

func newWatchHarness(t *testing.T, action string) *watchHarness {
	w := &watchHarness{harness: newHarness(t), action: action}
	w.env.SetStartTime(watchStart)
	w.env.RegisterWorkflow(Watch)
	w.env.RegisterActivityWithOptions(func(_ context.Context, in WatchFailedInput) (WatchFailedResult, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.failed = append(w.failed, in)
		return WatchFailedResult{Action: w.action, Detail: "fake", Configured: true}, nil
	}, activity.RegisterOptions{Name: WatchFailedActivity})
	return w
}

func (w *watchHarness) input(until time.Duration) WatchInput {
	j := runbooks.JourneyStep{}
	for _, n := range []string{"login", "order", "read"} {
		j.Requests = append(j.Requests, runbooks.JourneyRequest{Name: n, URL: w.srv.url("/w/" + n + "/${version}")})
	}
	return WatchInput{ReleaseID: testReleaseID, Service: testService, Environment: "staging", Version: testVersion,
		Journeys: []runbooks.Watch{{Name: "checkout", Every: runbooks.Duration(10 * time.Second), Journey: j}},
		Until:    watchStart.Add(until)}
}

func (w *watchHarness) run(in WatchInput) WatchStatus {
	w.env.SetStartWorkflowOptions(clientStartOptions(WatchID(testService, "staging")))
	w.env.ExecuteWorkflow(Watch, in)
	require.True(w.t, w.env.IsWorkflowCompleted())
	require.NoError(w.t, w.env.GetWorkflowError())
	var st WatchStatus
	require.NoError(w.t, w.env.GetWorkflowResult(&st))
	return st
}

// A watch runs its journey every interval until watch-after; a failing
// streak is one firing (the same first-failure time on every repeat), and
// a failure after a pass is a new one.
func TestWatchRunsUntilWatchAfterAndDedupsStreaks(t *testing.T) {
	w := newWatchHarness(t, runbooks.AlertNotify)
	read := "/w/read/" + testVersion
	w.at(15*time.Second, func() { w.srv.answer(read, http.StatusInternalServerError) })
	w.at(35*time.Second, func() { w.srv.answer(read, http.StatusOK) })
	w.at(45*time.Second, func() { w.srv.answer(read, http.StatusServiceUnavailable) })
	st := w.run(w.input(time.Minute))

	require.Equal(t, WatchEnded, st.State)
	require.Equal(t, 3, st.Failures)
	j := st.Journeys[0]
	require.Equal(t, 6, j.Runs) // at 0, 10, 20, 30, 40 and 50s
	require.False(t, j.Passed)
	require.Equal(t, "request read: got 503, want 200", j.Detail)
	require.Len(t, w.failed, 3)
	require.Equal(t, watchStart.Add(20*time.Second), w.failed[0].FirstFailedAt.UTC())
	require.Equal(t, w.failed[0].FirstFailedAt, w.failed[1].FirstFailedAt, "a streak is one firing")
	require.Equal(t, watchStart.Add(50*time.Second), w.failed[2].FirstFailedAt.UTC(), "a failure after a pass is a new firing")
	require.Equal(t, "watch/checkout/staging/checkout", w.failed[0].Fingerprint())
	require.Equal(t, "request read: got 500, want 200", w.failed[0].Summary)
	// Three requests per run, in order, with the release's version.
	hits := w.srv.requests()
	require.Len(t, hits, 6*3) // the failing request is the last one
	require.Equal(t, "GET /w/login/"+testVersion, hits[0])
}

// A failure the worker acted on with a rollback ends the watch: nothing
// of the release is left to watch.
func TestWatchStopsAfterRollback(t *testing.T) {
	w := newWatchHarness(t, runbooks.AlertRollback)
	w.srv.answer("/w/order/"+testVersion, http.StatusUnauthorized)
	st := w.run(w.input(time.Hour))
	require.Equal(t, WatchActed, st.State)
	require.Len(t, w.failed, 1)
	require.Equal(t, 1, st.Journeys[0].Runs)
	require.Contains(t, st.Reason, "journey checkout failed (request order: got 401, want 200)")
	require.Len(t, w.srv.requests(), 2)
}

// A long watch continues as new and carries its status.
func TestWatchContinuesAsNew(t *testing.T) {
	defer func(n int) { watchRunLimit = n }(watchRunLimit)
	watchRunLimit = 5
	w := newWatchHarness(t, runbooks.AlertNotify)
	w.env.SetStartWorkflowOptions(clientStartOptions(WatchID(testService, "staging")))
	w.env.ExecuteWorkflow(Watch, w.input(time.Hour))
	err := w.env.GetWorkflowError()
	require.True(t, workflow.IsContinueAsNewError(err), "want continue-as-new, got %v", err)
	require.Len(t, w.srv.requests(), 5*3, "five runs before continuing as new")
}

// The status a continued watch starts from is the one it carried.
func TestWatchResumesCarriedStatus(t *testing.T) {
	w := newWatchHarness(t, runbooks.AlertNotify)
	in := w.input(30 * time.Second)
	in.Status = &WatchStatus{WatchID: "watch/checkout/staging", State: WatchRunning, Until: in.Until, Failures: 7,
		Journeys: []WatchJourneyStatus{{Name: "checkout", Runs: 40, NextRun: watchStart.Add(20 * time.Second)}}}
	st := w.run(in)
	require.Equal(t, 7, st.Failures)
	require.Equal(t, 41, st.Journeys[0].Runs)
}

// A release whose environment has watch: starts the watch as a child
// (ID watch/<svc>/<env>) that runs for watch-after from the environment's end.
func TestReleaseStartsWatch(t *testing.T) {
	h := newHarness(t)
	var got WatchInput
	h.env.RegisterWorkflow(Watch)
	h.env.OnWorkflow(WatchWorkflowName, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in WatchInput) (WatchStatus, error) {
			got = in
			return WatchStatus{State: WatchEnded}, nil
		}).Once()
	e := envSpec("staging", check("smoke", h.srv.url("/health")))
	e.WatchAfter = runbooks.Duration(30 * time.Minute)
	e.Watch = []runbooks.Watch{{Name: "checkout", Journey: runbooks.JourneyStep{Requests: []runbooks.JourneyRequest{{Name: "a", URL: h.srv.url("/a")}}}}}
	h.runRelease(releaseInput(rb(e)))
	require.NoError(t, h.env.GetWorkflowError())
	require.Equal(t, "staging", got.Environment)
	require.Equal(t, testVersion, got.Version)
	st := h.releaseStatus()
	require.Equal(t, st.Environments[0].EndedAt.Add(30*time.Minute), got.Until)
	require.Contains(t, h.auditActions(), "watch.started running")
}
