package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/traffic"
	"github.com/runbookhq/runbook/runbooks"
)

// BuiltinSlots is the built-in step of environments with a traffic section:
// it reads the router's weights and picks the slot the new version goes to.
const BuiltinSlots = "select-slot"

// Traffic defaults.
const (
	defaultAnalysisInterval = 10 * time.Second
	defaultRollbackWindow   = 5 * time.Minute
	// maxRounds bounds the analysis rounds kept in the status (and so in
	// every progress signal).
	maxRounds = 10
	// gradualSteps and gradualPause shape a rollback towards a cold stable
	// side: four moves one second apart.
	gradualSteps = 4
	gradualPause = time.Second
	// drainTimeout bounds the wait for the old slot's requests in flight
	// after a blue-green cutover.
	drainTimeout = 30 * time.Second
)

// trafficKind is a traffic step kind: canary, linear, blue-green or
// all-at-once, compiled to the weights it walks through (compileShift).
type trafficKind struct {
	// promote is set by the promote Update until the bake it ends sees it.
	promote bool
}

func newTrafficKind() stepKind { return &trafficKind{} }

// Typed nil receivers for the traffic and metrics activities.
var (
	trafficActs *traffic.Activities
	metricsActs *metrics.Activities
)

// slotChoice is which slot serves and which receives the new version.
type slotChoice struct {
	live, target string
	// before are the weights found, restored by a rollback.
	before map[string]int
}

// firstInstall reports that no slot had traffic: there is no stable side to
// share with, so the first release takes all traffic at once.
func (s *slotChoice) firstInstall() bool {
	return s.before[s.live] == 0 && s.before[s.target] == 0
}

// phase is one weight of a traffic strategy and how long it bakes.
type phase struct {
	weight int
	bake   time.Duration
}

// shift is a traffic step compiled from its strategy.
type shift struct {
	strategy string
	phases   []phase
	interval time.Duration
	// drainLive drains the old slot once all traffic moved (blue-green).
	drainLive bool
}

// compileShift turns a traffic step into the weights it walks through. Every
// strategy ends with all traffic on the new version.
func compileShift(s runbooks.Step) shift {
	sh := shift{strategy: s.Kind()}
	switch {
	case s.Canary != nil:
		sh.interval = s.Canary.AnalysisInterval.Or(defaultAnalysisInterval)
		for _, w := range s.Canary.Steps {
			sh.phases = append(sh.phases, phase{weight: w.Weight, bake: w.Bake.Or(sh.interval)})
		}
	case s.Linear != nil:
		sh.interval = s.Linear.AnalysisInterval.Or(defaultAnalysisInterval)
		for w := s.Linear.Increment; ; w += s.Linear.Increment {
			sh.phases = append(sh.phases, phase{weight: min(w, 100), bake: time.Duration(s.Linear.Every)})
			if w >= 100 {
				break
			}
		}
	case s.BlueGreen != nil:
		sh.interval = s.BlueGreen.AnalysisInterval.Or(defaultAnalysisInterval)
		sh.phases = []phase{{weight: 100, bake: s.BlueGreen.RollbackWindow.Or(defaultRollbackWindow)}}
		sh.drainLive = true
	case s.AllAtOnce != nil:
		sh.interval = s.AllAtOnce.AnalysisInterval.Or(defaultAnalysisInterval)
		sh.phases = []phase{{weight: 100, bake: s.AllAtOnce.Bake.Or(sh.interval)}}
	}
	if n := len(sh.phases); n == 0 || sh.phases[n-1].weight < 100 {
		sh.phases = append(sh.phases, phase{weight: 100})
	}
	return sh
}

// atLeast stretches every analysed bake to w: a weight analysed for less
// than one measurement window could never be judged.
func (sh *shift) atLeast(w time.Duration) {
	for k := range sh.phases {
		if sh.phases[k].bake > 0 {
			sh.phases[k].bake = max(sh.phases[k].bake, w)
		}
	}
}

// longestWindow is the longest time span a check measures over.
func longestWindow(checks []metrics.Check) time.Duration {
	var w time.Duration
	for _, c := range checks {
		w = max(w, c.Query.Window)
	}
	return w
}

func (e *environment) trafficTarget() traffic.Target {
	t := e.in.Env.Traffic
	return traffic.Target{Provider: t.Provider, Options: t.Options}
}

// trafficCtx runs the router's activities: quick calls, retried at a short
// interval because a rollback waits on them. With the truthful rollback a
// cancelled call is awaited (it heartbeats, so it learns of the cancel):
// weights that an interrupted call still sets must land before the
// rollback's own weights, not after them.
func (e *environment) trafficCtx(ctx workflow.Context, summary string) workflow.Context {
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond, MaximumInterval: 5 * time.Second,
			NonRetryableErrorTypes: []string{traffic.ErrTypeInvalid},
		},
		Summary: summary,
	}
	if e.truthful {
		opts.HeartbeatTimeout, opts.WaitForCancellation = 10*time.Second, true
	}
	return workflow.WithActivityOptions(ctx, opts)
}

// readWeights reads the router's weights of every backend.
func (e *environment) readWeights(ctx workflow.Context, summary string) (map[string]int, error) {
	var res traffic.WeightsResult
	err := workflow.ExecuteActivity(e.trafficCtx(ctx, summary), trafficActs.Weights,
		traffic.WeightsInput{Target: e.trafficTarget()}).Get(ctx, &res)
	return res.Weights, err
}

// slotKind is the built-in select-slot step of environments with a traffic section.
type slotKind struct{}

// run reads the weights: the slot with more traffic is live, the
// other one receives the new version. A tie (a fresh router) keeps the
// first slot, by name, as live.
func (k *slotKind) run(ctx workflow.Context, e *environment, i int) error {
	weights, err := e.readWeights(ctx, "read traffic weights")
	if err != nil {
		return err
	}
	slots := sortedKeys(e.in.Env.Traffic.Slots)
	for _, s := range slots {
		if _, ok := weights[s]; !ok {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the %s router has no backend %q (it has %v); add it to the router or fix traffic.slots",
				e.in.Env.Traffic.Provider, s, sortedKeys(weights)), ErrTypeInvalid, nil)
		}
	}
	live, target := slots[0], slots[1]
	if weights[target] > weights[live] {
		live, target = target, live
	}
	e.slots = &slotChoice{live: live, target: target, before: pick(weights, slots)}
	e.status.Traffic = &TrafficStatus{
		Provider: e.in.Env.Traffic.Provider, Live: live, Target: target, Weights: pick(weights, slots),
	}
	e.status.Steps[i].Detail = fmt.Sprintf("%s is live (%d%%); the new version goes to %s",
		live, weights[live], target)
	if e.slots.firstInstall() {
		e.status.Steps[i].Detail = fmt.Sprintf("no slot has traffic yet: first install, the new version goes to %s and takes all traffic at once", target)
	}
	return nil
}

// pick keeps the weights of the named backends.
func pick(w map[string]int, names []string) map[string]int {
	out := make(map[string]int, len(names))
	for _, n := range names {
		out[n] = w[n]
	}
	return out
}

// setTargetWeight gives the target slot weight w and the live slot the rest,
// in one change, and records the weights read back.
func (e *environment) setTargetWeight(ctx workflow.Context, w int) error {
	return e.setWeights(ctx, map[string]int{e.slots.target: w, e.slots.live: 100 - w})
}

// setWeights changes both slots' weights in one call.
func (e *environment) setWeights(ctx workflow.Context, w map[string]int) error {
	s := e.slots
	in := traffic.SetWeightsInput{Target: e.trafficTarget(), Weights: w}
	var res traffic.SetWeightsResult
	err := workflow.ExecuteActivity(e.trafficCtx(ctx, fmt.Sprintf("%s %d%% / %s %d%%", s.target, w[s.target], s.live, w[s.live])),
		trafficActs.SetWeights, in).Get(ctx, &res)
	if err != nil {
		return err
	}
	e.status.Traffic.Weights = pick(res.Weights, []string{s.live, s.target})
	return nil
}

// run walks the weights of the step. Before the first change it
// registers the compensation that sends everything back to the live slot;
// on an SLO breach it does that at once, before anything else.
func (t *trafficKind) run(ctx workflow.Context, e *environment, i int) error {
	sh := compileShift(e.plan[i].step)
	checks := t.sloChecks(e, sh.interval)
	if e.slots.firstInstall() {
		// Splitting traffic with a slot that serves nothing would only
		// send requests nowhere: analyse the new version alone instead.
		last := sh.phases[len(sh.phases)-1]
		sh.phases = []phase{{weight: 100, bake: max(last.bake, sh.interval)}}
	}
	sh.atLeast(longestWindow(checks))
	tr := e.status.Traffic
	tr.Strategy, tr.Phases = sh.strategy, len(sh.phases)
	e.pushCompensation(compensation{step: e.plan[i].step.Name, undo: &trafficUndo{
		live: e.slots.live, target: e.slots.target, gradual: e.in.Env.Traffic.Rollback == "gradual"}})
	round := 1
	for p := 0; p < len(sh.phases); p++ {
		ph := sh.phases[p]
		tr.Phase, tr.Hold = p+1, ""
		if err := e.setTargetWeight(ctx, ph.weight); err != nil {
			return err
		}
		e.status.Steps[i].Detail = fmt.Sprintf("%s at %d%% (weight %d of %d)", e.slots.target, ph.weight, p+1, len(sh.phases))
		e.audit(ctx, auditRecord{action: "traffic.shifted", step: e.plan[i].step.Name, outcome: StateRunning, detail: e.status.Steps[i].Detail})
		e.publish(ctx)
		next, err := t.bakePhase(ctx, e, i, ph, sh, checks, round)
		if err != nil {
			return err
		}
		round = next
	}
	if sh.drainLive {
		t.drainLive(ctx, e)
	}
	e.status.Steps[i].Detail = fmt.Sprintf("all traffic on %s (%s %s)", e.slots.target, e.in.Service, e.in.Version)
	tr.BakeEnds = time.Time{}
	return nil
}

// drainLive waits for the old slot's requests in flight; it stays deployed
// (at weight 0) for a rollback. A slow drain is reported, not a failure.
func (t *trafficKind) drainLive(ctx workflow.Context, e *environment) {
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: drainTimeout + 30*time.Second,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: []string{traffic.ErrTypeInvalid}},
		Summary:             "drain " + e.slots.live,
	}
	if e.truthful {
		// A drain takes the old slot out of rotation: one still running
		// after an abort would do that after the rollback put it back.
		opts.HeartbeatTimeout, opts.WaitForCancellation = 10*time.Second, true
	}
	actx := workflow.WithActivityOptions(ctx, opts)
	var res traffic.DrainResult
	err := workflow.ExecuteActivity(actx, trafficActs.Drain, traffic.DrainInput{
		Target: e.trafficTarget(), Backend: e.slots.live, Timeout: drainTimeout,
	}).Get(ctx, &res)
	if err != nil || !res.Drained {
		e.log.Warn("old slot not drained", "slot", e.slots.live, "in-flight", res.InFlight, "error", err)
	}
}

// revertTraffic restores the weights found before the release (all traffic
// on the live slot): at once, or in a few steps when the runbook says the
// stable side is cold.
func (e *environment) revertTraffic(ctx workflow.Context) error {
	if e.slots == nil {
		return nil
	}
	s, before := e.slots, e.slots.before
	from := e.status.Traffic.Weights[s.target]
	if e.truthful && e.in.Env.Traffic.Rollback == "gradual" {
		// Start from where the router really is, not from the last weights
		// this workflow saw: a cancelled call may have moved them since.
		w, err := e.readWeights(ctx, "read traffic weights before the rollback")
		if err != nil {
			return err
		}
		from = w[s.target]
	}
	if e.in.Env.Traffic.Rollback == "gradual" && from > before[s.target] && !s.firstInstall() {
		for k := gradualSteps - 1; k > 0; k-- {
			w := before[s.target] + (from-before[s.target])*k/gradualSteps
			if err := e.setTargetWeight(ctx, w); err != nil {
				return err
			}
			if err := workflow.Sleep(ctx, gradualPause); err != nil {
				return err
			}
		}
	}
	if err := e.setWeights(ctx, before); err != nil {
		return err
	}
	e.status.Traffic.RevertedAt = workflow.Now(ctx)
	e.status.Traffic.BakeEnds = time.Time{}
	return nil
}

// keepRound appends an analysis round to the status, keeping the latest.
func (tr *TrafficStatus) keepRound(r metrics.MeasureResult) {
	tr.Rounds = append(tr.Rounds, r)
	if n := len(tr.Rounds); n > maxRounds {
		tr.Rounds = slices.Clone(tr.Rounds[n-maxRounds:])
	}
}
