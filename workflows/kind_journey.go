package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/runbooks"
)

// journeyKind is the journey step kind: several requests in order, values
// carried from one answer to the next request.
type journeyKind struct{}

// run is one activity that runs the whole journey per attempt, retried as
// an http-check is (every interval until it passes or the deadline), so
// the values one request hands to the next (a login's token) stay inside
// the attempt and never reach history. The release's variables are
// replaced here; ${journey.NAME} is left for the activity.
func (k *journeyKind) run(ctx workflow.Context, e *environment, i int) error {
	s := e.plan[i].step
	j := s.Journey
	in := httpcheck.JourneyInput{Timeout: j.Timeout.Or(defaultHTTPTimeout), IdempotencyKey: e.idempotencyKey(s.Name)}
	for _, r := range j.Requests {
		req, err := e.journeyRequest(r)
		if err != nil {
			return err
		}
		in.Requests = append(in.Requests, req)
	}
	interval := j.Interval.Or(defaultHTTPInterval)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// Every request may take its whole timeout.
		StartToCloseTimeout:    time.Duration(len(in.Requests))*in.Timeout + 5*time.Second,
		ScheduleToCloseTimeout: j.Deadline.Or(defaultHTTPDeadline),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        interval,
			BackoffCoefficient:     1,
			MaximumInterval:        interval,
			NonRetryableErrorTypes: []string{httpcheck.ErrTypeInvalid},
		},
		// As for http-check: a request on its way at an abort may still
		// take effect, so the on-rollback hook comes after it.
		WaitForCancellation: e.truthful,
		Summary:             fmt.Sprintf("%s: journey of %d requests", s.Name, len(in.Requests)),
	})
	var res httpcheck.JourneyResult
	if err := workflow.ExecuteActivity(ctx, httpActs.Journey, in).Get(ctx, &res); err != nil {
		e.status.Steps[i].Detail = "journey: " + rootMessage(err)
		return err
	}
	e.status.Steps[i].Detail = fmt.Sprintf("journey: %d requests passed in %d ms (attempt %d)", len(res.Requests), res.DurationMS, res.Attempt)
	return nil
}

// journeyRequest is r with the release's variables replaced.
func (e *environment) journeyRequest(r runbooks.JourneyRequest) (httpcheck.JourneyRequest, error) {
	texts, err := e.expandAll(r.URL, r.Body, r.ExpectBody)
	if err != nil {
		return httpcheck.JourneyRequest{}, err
	}
	out := httpcheck.JourneyRequest{Name: r.Name, Method: r.Method, URL: texts[0], Body: texts[1], ExpectBody: texts[2],
		ExpectStatus: r.ExpectStatus, Extract: r.Extract}
	if out.Headers, err = e.expandValues(r.Headers); err != nil {
		return out, err
	}
	out.ExpectJSON, err = e.expandValues(r.ExpectJSON)
	return out, err
}

// expandValues expands the values of m, in key order.
func (e *environment) expandValues(m map[string]string) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		v, err := e.expand(m[k])
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
