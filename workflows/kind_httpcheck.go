package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/httpcheck"
)

// Defaults of the http-check step.
const (
	defaultHTTPTimeout  = 10 * time.Second
	defaultHTTPInterval = 2 * time.Second
	defaultHTTPDeadline = 2 * time.Minute
)

// httpActs is the typed nil receiver of the http-check activities.
var httpActs *httpcheck.Activities

// httpCheckKind is the http-check step kind.
type httpCheckKind struct{}

// run is one activity whose Temporal retry policy
// repeats the request every interval until it passes or the deadline is hit.
// Retries add no history events, so a long check keeps history small.
func (k *httpCheckKind) run(ctx workflow.Context, e *environment, i int) error {
	c := e.plan[i].step.HTTPCheck
	texts, err := e.expandAll(c.URL, c.Body, c.ExpectBody)
	if err != nil {
		return err
	}
	in := httpcheck.HTTPCheckInput{
		URL:            texts[0],
		Method:         c.Method,
		Headers:        c.Headers,
		Body:           texts[1],
		ExpectStatus:   c.ExpectStatus,
		ExpectBody:     texts[2],
		Timeout:        c.Timeout.Or(defaultHTTPTimeout),
		IdempotencyKey: e.idempotencyKey(e.plan[i].step.Name),
	}
	interval := c.Interval.Or(defaultHTTPInterval)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    in.Timeout + 5*time.Second,
		ScheduleToCloseTimeout: c.Deadline.Or(defaultHTTPDeadline),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        interval,
			BackoffCoefficient:     1,
			MaximumInterval:        interval,
			NonRetryableErrorTypes: []string{httpcheck.ErrTypeInvalid},
		},
		// A request on its way when the release is aborted may still take
		// effect: the step's on-rollback hook must come after it, not
		// before (the attempt is bounded by its timeout).
		WaitForCancellation: e.truthful,
		Summary:             fmt.Sprintf("%s: %s %s", e.plan[i].step.Name, methodOr(in.Method, "GET"), in.URL),
	})
	var res httpcheck.HTTPCheckResult
	if err := workflow.ExecuteActivity(ctx, httpActs.HTTPCheck, in).Get(ctx, &res); err != nil {
		return err
	}
	e.status.Steps[i].Detail = fmt.Sprintf("%s %s answered %d in %d ms (attempt %d)",
		methodOr(in.Method, "GET"), in.URL, res.Status, res.DurationMS, res.Attempt)
	return nil
}
