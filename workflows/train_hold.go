package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/runbooks"
)

// trainHoldRecheck bounds how long a held train waits before reading the
// freezes again when no signal comes (the Freezes workflow not running).
const trainHoldRecheck = 5 * time.Minute

// hold keeps the train out of environment i until every service may enter
// it at once: each service's release window open and no freeze covering
// any of them. A train never enters an environment half-way, so a freeze
// or a closed window of one service holds them all.
func (t *train) hold(ctx workflow.Context, i int) error {
	te := &t.status.Environments[i]
	announced := false
	for {
		blocked, until, err := t.blocking(ctx, i)
		if err != nil || blocked == "" {
			if announced && err == nil {
				te.Hold = ""
				t.audit(ctx, "train.unheld", "", StateRunning, te.Name, "every service may enter "+te.Name)
			}
			return err
		}
		if te.Hold != blocked {
			te.Hold = blocked
			t.audit(ctx, "train.held", "", StateWaiting, te.Name, blocked)
			t.publish(ctx)
		}
		announced = true
		if err := t.awaitHoldChange(ctx, until); err != nil {
			return err
		}
	}
}

// blocking says what keeps the train out of environment i now ("" for
// nothing) and until when at the latest it need not look again.
func (t *train) blocking(ctx workflow.Context, i int) (string, time.Time, error) {
	env := t.in.Environments[i]
	now := workflow.Now(ctx)
	until := now.Add(trainHoldRecheck)
	var why []string
	for _, s := range t.in.Services {
		if !hasEnvironment(s.Release.Runbook, env) {
			continue
		}
		w := envOf(s.Release.Runbook, env).ReleaseWindow
		if w == nil {
			continue
		}
		open, reason, err := NextOpening(now, *w)
		if err != nil {
			return "", until, fmt.Errorf("%s's release window: %w", s.Name, err)
		}
		if open.After(now) {
			if w.OnClosed == runbooks.OnClosedFail {
				return "", until, fmt.Errorf("%s's release window is closed (%s) and says on-closed: fail", s.Name, reason)
			}
			why = append(why, fmt.Sprintf("%s: %s, opens %s", s.Name, reason, describeOpening(open, w.Timezone)))
			until = minTime(until, open)
		}
	}
	fs, err := t.readFreezes(ctx)
	if err != nil {
		why = append(why, "cannot read the change freezes ("+rootMessage(err)+")")
	}
	for _, s := range t.in.Services {
		if !hasEnvironment(s.Release.Runbook, env) {
			continue
		}
		for _, f := range freezes.Holding(fs, s.Name, env, now) {
			why = append(why, fmt.Sprintf("%s: held by %s; lift it with: runbook freeze lift %s --reason ...", s.Name, f.Describe(), f.ID))
			if !f.To.IsZero() {
				until = minTime(until, f.To)
			}
		}
	}
	return strings.Join(why, "; "), until, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// hasEnvironment reports whether rb releases into env.
func hasEnvironment(rb runbooks.Runbook, env string) bool {
	return slices.ContainsFunc(rb.Environments, func(e runbooks.Environment) bool { return e.Name == env })
}

// envOf is rb's environment named env (empty when it has none).
func envOf(rb runbooks.Runbook, env string) runbooks.Environment {
	for _, e := range rb.Environments {
		if e.Name == env {
			return e
		}
	}
	return runbooks.Environment{}
}

// readFreezes reads every freeze through a bounded local activity.
func (t *train) readFreezes(ctx workflow.Context) ([]freezes.Freeze, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Second, MaximumAttempts: 3},
		Summary:                "read change freezes",
	})
	var res freezes.ListFreezesResult
	err := workflow.ExecuteLocalActivity(lctx, freezeActs.ListFreezes, freezes.ListFreezesInput{}).Get(lctx, &res)
	return res.Freezes, err
}

// awaitHoldChange registers with the Freezes workflow to be told of the
// next change, then waits for it, until, or an abort.
func (t *train) awaitHoldChange(ctx workflow.Context, until time.Time) error {
	watch := workflow.SignalExternalWorkflow(ctx, freezes.WorkflowID, "", freezes.SignalWatch, workflow.GetInfo(ctx).WorkflowExecution)
	if err := watch.Get(ctx, nil); err != nil && ctx.Err() == nil {
		workflow.GetLogger(ctx).Warn("could not register with the Freezes workflow; reading the freezes again by timer", "error", err)
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	changed := workflow.GetSignalChannel(ctx, SignalFreezesChanged)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(changed, func(c workflow.ReceiveChannel, _ bool) {
		for c.ReceiveAsync(nil) {
		}
	})
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.AddFuture(workflow.NewTimerWithOptions(tctx, until.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: "train hold: look again"}),
		func(workflow.Future) {})
	sel.Select(ctx)
	if ctx.Err() != nil {
		return temporal.NewCanceledError()
	}
	return nil
}
