package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/runbooks"
)

// A watch continues as new past watchHistoryLimit events or watchRunLimit
// journey runs in one execution (a long watch-after with a short every),
// or when the server suggests it; variables for tests.
var (
	watchHistoryLimit = 4000
	watchRunLimit     = 400
)

// watch is the state of one Watch workflow execution.
type watch struct {
	in     WatchInput
	status WatchStatus
	// runs counts the journey runs of this execution.
	runs int
}

// Watch runs an environment's watch journeys after a release succeeded
// there, each every its interval, until watch-after has passed since the
// release ended there. A failing journey acts as an alert of severity
// journey would (WatchFailedActivity); once that rolled the release back,
// the watch stops. It is one per environment (WatchID): the next release's
// watch replaces it.
func Watch(ctx workflow.Context, in WatchInput) (WatchStatus, error) {
	w := newWatch(ctx, in)
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (WatchStatus, error) {
		return w.status, nil
	}); err != nil {
		return w.status, err
	}
	for w.status.State == WatchRunning {
		if w.longHistory(ctx) {
			next := w.in
			next.Status = &w.status
			return w.status, workflow.NewContinueAsNewError(ctx, WatchWorkflowName, next)
		}
		if err := w.step(ctx); err != nil {
			return w.status, err
		}
	}
	w.details(ctx)
	return w.status, nil
}

// longHistory reports whether this execution should continue as new.
func (w *watch) longHistory(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return w.runs >= watchRunLimit || info.GetCurrentHistoryLength() > watchHistoryLimit || info.GetContinueAsNewSuggested()
}

func newWatch(ctx workflow.Context, in WatchInput) *watch {
	w := &watch{in: in}
	if in.Status != nil {
		w.status = *in.Status
		return w
	}
	now := workflow.Now(ctx)
	w.status = WatchStatus{WatchID: workflow.GetInfo(ctx).WorkflowExecution.ID, ReleaseID: in.ReleaseID,
		Service: in.Service, Environment: in.Environment, Version: in.Version, State: WatchRunning, Until: in.Until}
	for _, j := range in.Journeys {
		w.status.Journeys = append(w.status.Journeys, WatchJourneyStatus{Name: j.Name, NextRun: now})
	}
	return w
}

// step waits for the next journey due (or the end) and runs the due ones.
func (w *watch) step(ctx workflow.Context) error {
	w.details(ctx)
	now := workflow.Now(ctx)
	if !now.Before(w.status.Until) {
		w.status.State, w.status.Reason = WatchEnded, fmt.Sprintf("watch-after passed at %s", w.status.Until.UTC().Format(time.RFC3339))
		return nil
	}
	next := w.status.Until
	for _, j := range w.status.Journeys {
		if j.NextRun.Before(next) {
			next = j.NextRun
		}
	}
	if d := next.Sub(now); d > 0 {
		if err := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: "next watch run"}).Get(ctx, nil); err != nil {
			return err
		}
		return nil
	}
	for i := range w.status.Journeys {
		if !w.status.Journeys[i].NextRun.After(now) && w.status.State == WatchRunning {
			if err := w.run(ctx, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// run runs journey i once and acts on its failure.
func (w *watch) run(ctx workflow.Context, i int) error {
	j, js := w.in.Journeys[i], &w.status.Journeys[i]
	js.Runs++
	w.runs++
	js.LastRun = workflow.Now(ctx)
	js.NextRun = js.LastRun.Add(j.EveryOr())
	res, failure, err := w.journey(ctx, j, js.Runs)
	if err != nil {
		// Not the journey's verdict (the worker was away, the journey can
		// never pass as written): shown, never acted on.
		js.Detail, js.Passed = "not run: "+err.Error(), false
		return nil
	}
	if failure == "" {
		js.Passed, js.FailingSince, js.Action = true, time.Time{}, ""
		js.Detail = fmt.Sprintf("%d requests passed in %d ms", len(res.Requests), res.DurationMS)
		return nil
	}
	js.Passed, js.Detail = false, failure
	js.Failures++
	w.status.Failures++
	if js.FailingSince.IsZero() {
		js.FailingSince = js.LastRun
	}
	return w.failed(ctx, j, js)
}

// journey runs one attempt of j. failure is the journey's own failure
// (the failing request and expectation); err is anything else.
func (w *watch) journey(ctx workflow.Context, j runbooks.Watch, n int) (httpcheck.JourneyResult, string, error) {
	in := httpcheck.JourneyInput{Timeout: j.Journey.Timeout.Or(defaultHTTPTimeout),
		IdempotencyKey: fmt.Sprintf("%s/%s/%s/%d", w.status.WatchID, workflow.GetInfo(ctx).WorkflowExecution.RunID, j.Name, n)}
	for _, r := range j.Journey.Requests {
		in.Requests = append(in.Requests, w.request(r))
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Duration(len(in.Requests))*in.Timeout + 5*time.Second,
		// One run is one attempt: the next run is the retry.
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:     fmt.Sprintf("watch %s: journey of %d requests", j.Name, len(in.Requests)),
	})
	var res httpcheck.JourneyResult
	err := workflow.ExecuteActivity(actx, httpActs.Journey, in).Get(ctx, &res)
	var ae *temporal.ApplicationError
	switch {
	case err == nil:
		return res, "", nil
	case errors.As(err, &ae) && ae.Type() == httpcheck.ErrTypeFailed:
		return res, ae.Message(), nil
	}
	return res, "", errors.New(rootMessage(err))
}

// request is r with the release's variables replaced; a watch knows only
// the release's own (the validator refuses the others).
func (w *watch) request(r runbooks.JourneyRequest) httpcheck.JourneyRequest {
	vars := map[string]string{runbooks.VarVersion: w.in.Version, runbooks.VarService: w.in.Service,
		runbooks.VarEnvironment: w.in.Environment, runbooks.VarArtifact: w.in.Artifact}
	expand := func(m map[string]string) map[string]string {
		if m == nil {
			return nil
		}
		out := make(map[string]string, len(m))
		for _, k := range sortedKeys(m) {
			out[k] = runbooks.Expand(m[k], vars)
		}
		return out
	}
	return httpcheck.JourneyRequest{Name: r.Name, Method: r.Method, URL: runbooks.Expand(r.URL, vars),
		Body: runbooks.Expand(r.Body, vars), ExpectBody: runbooks.Expand(r.ExpectBody, vars), ExpectStatus: r.ExpectStatus,
		Headers: expand(r.Headers), ExpectJSON: expand(r.ExpectJSON), Extract: r.Extract}
}

// failed hands a failure to the worker, which acts as an alert would; a
// rollback ends the watch.
func (w *watch) failed(ctx workflow.Context, j runbooks.Watch, js *WatchJourneyStatus) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
		Summary:     fmt.Sprintf("watch %s failed: act as an alert of severity %s", j.Name, runbooks.AlertSeverityJourney),
	})
	in := WatchFailedInput{WatchID: w.status.WatchID, ReleaseID: w.in.ReleaseID, Service: w.in.Service,
		Environment: w.in.Environment, Journey: j.Name, Summary: js.Detail, FirstFailedAt: js.FailingSince}
	var res WatchFailedResult
	if err := workflow.ExecuteActivity(actx, WatchFailedActivity, in).Get(ctx, &res); err != nil {
		js.Action = "not acted: " + rootMessage(err)
		return nil
	}
	js.Action = res.Action
	switch {
	case res.Duplicate:
		js.Action = "acted before"
	case !res.Configured:
		js.Action = "audited; no action configured (the worker has no alerts file)"
	case res.RolledBack():
		w.status.State = WatchActed
		w.status.Reason = fmt.Sprintf("journey %s failed (%s): %s", j.Name, js.Detail, res.Detail)
	}
	return nil
}

// details shows the watch in the Web UI.
func (w *watch) details(ctx workflow.Context) {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s %s** (%s): %s until %s, %d failures", w.status.Service, w.status.Environment,
		w.status.ReleaseID, w.status.State, w.status.Until.UTC().Format(time.RFC3339), w.status.Failures)
	for _, j := range w.status.Journeys {
		verdict := "pending"
		if j.Runs > 0 && j.Passed {
			verdict = "passed"
		} else if j.Runs > 0 {
			verdict = "failed: " + j.Detail
		}
		fmt.Fprintf(&b, "\n- %s: %s (%d runs)", j.Name, verdict, j.Runs)
	}
	if w.status.Reason != "" {
		b.WriteString("\n" + w.status.Reason)
	}
	workflow.SetCurrentDetails(ctx, b.String())
}
