package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/metrics"
)

// holdByAnalysis is who "paused" an environment whose analysis was
// inconclusive: it waits for a person to resume, promote or abort.
const holdByAnalysis = "analysis"

// bakeOutcome is how one bake attempt ended.
type bakeOutcome struct {
	res metrics.BakeResult
	// interrupted: a pause or a promote stopped the bake before its end.
	interrupted bool
	elapsed     time.Duration
	err         error
}

// bakePhase holds the current weight for its bake time while the SLOs are
// analysed, and returns the number of the next analysis round. A pause holds
// the weight and stops the clock; a promote ends the bake early; a breach
// sends all traffic back to the live slot before it returns the failure;
// an inconclusive analysis waits for a person.
func (t *trafficKind) bakePhase(ctx workflow.Context, e *environment, i int, ph phase, sh shift, checks []metrics.Check, round int) (int, error) {
	remaining := ph.bake
	for remaining > 0 {
		if t.takePromote(ctx, e, i) {
			return round, nil
		}
		e.status.Traffic.BakeEnds = workflow.Now(ctx).Add(remaining)
		e.publish(ctx)
		out := t.bakeOnce(ctx, e, remaining, sh.interval, checks, round, ph.weight)
		if out.err != nil {
			return round, out.err
		}
		if out.interrupted {
			remaining -= out.elapsed
			round += int(out.elapsed / sh.interval)
			if f := e.awaitUnpaused(ctx); f != nil {
				return round, f
			}
			continue
		}
		round = max(round, out.res.NextRound)
		for _, r := range out.res.Rounds {
			e.status.Traffic.keepRound(r)
		}
		switch out.res.Verdict {
		case metrics.Fail:
			return round, t.breach(ctx, e, i, ph, out.res.Decisive)
		case metrics.Inconclusive:
			if f := t.holdInconclusive(ctx, e, i, out.res.Decisive); f != nil {
				return round, f
			}
			if t.takePromote(ctx, e, i) {
				return round, nil
			}
			remaining = ph.bake // resumed: analyse this weight again
			continue
		}
		remaining = 0
	}
	return round, nil
}

// bakeOnce runs one bake at the target's weight: the Bake activity, or a
// timer when there is nothing to analyse. A pause, promote or abort
// interrupts it.
func (t *trafficKind) bakeOnce(ctx workflow.Context, e *environment, d, interval time.Duration, checks []metrics.Check, round, weight int) bakeOutcome {
	start := workflow.Now(ctx)
	bctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var out bakeOutcome
	done := false
	if len(checks) == 0 {
		timer := workflow.NewTimerWithOptions(bctx, d, workflow.TimerOptions{Summary: fmt.Sprintf("bake %s", d)})
		workflow.Go(ctx, func(gctx workflow.Context) { out.err = timer.Get(gctx, nil); done = true })
	} else {
		f := workflow.ExecuteActivity(bakeCtx(bctx, d, interval), metricsActs.Bake, metrics.BakeInput{
			Checks: checks, Interval: interval, Duration: d, FirstRound: round,
			Score: ScorePolicy(&e.in.Env), BaselineIdle: weight >= 100,
		})
		workflow.Go(ctx, func(gctx workflow.Context) { out.err = f.Get(gctx, &out.res); done = true })
	}
	_ = workflow.Await(ctx, func() bool { return done || e.status.Paused || t.promote || e.abort != nil })
	if !done {
		cancel()
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.Await(dctx, func() bool { return done })
		if ctx.Err() != nil {
			// The workflow was cancelled (the Web UI): an abort, not a
			// pause, or the bake would start again at once, for ever.
			e.abortFromCancel()
		}
		if e.abort == nil {
			out.interrupted, out.err = true, nil
		}
	}
	out.elapsed = workflow.Now(ctx).Sub(start)
	return out
}

// bakeCtx runs the Bake activity: it heartbeats every tick, so a lost
// worker is noticed in seconds and the retry resumes from the heartbeat.
func bakeCtx(ctx workflow.Context, d, interval time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: d + interval + 2*time.Minute,
		// The SDK sends heartbeats at most every 80% of this: short, so
		// `runbook status` shows each round soon after it is measured.
		HeartbeatTimeout: max(5*time.Second, 2*interval),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			NonRetryableErrorTypes: []string{metrics.ErrTypeInvalidCheck},
		},
		WaitForCancellation: false,
		Summary:             fmt.Sprintf("analyse SLOs for %s every %s", d, interval),
	})
}

// breach sends all traffic back to the live slot at once and fails the step
// with the measurement that decided it.
func (t *trafficKind) breach(ctx workflow.Context, e *environment, i int, ph phase, decisive *metrics.MeasureResult) error {
	tr := e.status.Traffic
	tr.Decisive = decisive
	what := describeFailing(decisive)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	e.killOnBreach(dctx, e.plan[i].step.Name, nil)
	if err := e.revertTraffic(dctx); err != nil {
		return fmt.Errorf("SLO breach (%s) and moving traffic back to %s failed: %w", what, e.slots.live, err)
	}
	msg := fmt.Sprintf("SLO breach with %s at %d%%: %s; all traffic back on %s", e.slots.target, ph.weight, what, e.slots.live)
	e.status.Steps[i].Detail = msg
	e.audit(ctx, auditRecord{action: "traffic.breach", step: e.plan[i].step.Name, outcome: StateFailed, detail: msg})
	return &failure{cause: ErrTypeSLOBreach, message: msg}
}

// holdInconclusive waits for a person after an analysis that could not
// decide: resume analyses the weight again, promote accepts it, abort rolls
// back. The weight stays as it is meanwhile.
func (t *trafficKind) holdInconclusive(ctx workflow.Context, e *environment, i int, decisive *metrics.MeasureResult) *failure {
	tr := e.status.Traffic
	tr.Decisive = decisive
	tr.Hold = "analysis inconclusive: " + describeFailing(decisive) + "; resume to analyse again, promote to accept, abort to roll back"
	e.status.Paused, e.status.PausedBy = true, holdByAnalysis
	e.status.Steps[i].Detail = tr.Hold
	e.audit(ctx, auditRecord{action: "traffic.held", step: e.plan[i].step.Name, outcome: StatePaused, detail: tr.Hold})
	e.upsertAttrs(ctx)
	e.publish(ctx)
	f := e.awaitUnpaused(ctx)
	tr.Hold = ""
	return f
}

// takePromote consumes a pending promote of the current weight.
func (t *trafficKind) takePromote(ctx workflow.Context, e *environment, i int) bool {
	if !t.promote {
		return false
	}
	t.promote = false
	e.settle(ctx) // the promote's record, before the next shift
	e.status.Traffic.BakeEnds = time.Time{}
	e.status.Steps[i].Detail = fmt.Sprintf("%s promoted at %d%%", e.slots.target, e.status.Traffic.Weights[e.slots.target])
	e.publish(ctx)
	return true
}

// describeFailing names the checks of a round that did not pass.
func describeFailing(r *metrics.MeasureResult) string {
	if r == nil {
		return "no measurement"
	}
	if r.Score != nil {
		return r.Score.String()
	}
	s := ""
	for _, m := range r.Measurements {
		if m.Verdict == metrics.Pass {
			continue
		}
		if s != "" {
			s += "; "
		}
		s += fmt.Sprintf("%s %s (%s)", m.Check, m.Verdict, m.Detail)
	}
	if s == "" {
		s = fmt.Sprintf("round %d %s", r.Round, r.Verdict)
	}
	return s
}
