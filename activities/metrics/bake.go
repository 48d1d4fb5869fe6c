package metrics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// BakeActivityName is the activity type Bake is registered under: clients
// that read a running bake's heartbeat (runbook status) look for it.
// TestBakeResumesFromHeartbeat runs the activity by this name.
const BakeActivityName = "Bake"

// Bake defaults.
const (
	DefaultBakeKeep = 20
	DefaultBakeTick = time.Second
)

const (
	// bakeErrorIntervals is how many analysis intervals a check's provider may
	// keep failing before the bake fails the activity for Temporal to retry.
	bakeErrorIntervals = 3
	// progressRounds is how many recorded rounds a heartbeat carries: enough
	// to show progress, small because heartbeats are frequent.
	progressRounds = 5
)

// BakeInput is one weight of a traffic step, baked under analysis.
type BakeInput struct {
	Checks []Check
	// Interval is the analysis interval: one round is recorded per Interval.
	// It is also the window of every check whose Query.Window (or, for
	// compare, Baseline.Window) is 0.
	Interval time.Duration
	// Duration is how long to bake; 0 means one Interval (one round).
	Duration time.Duration
	// Tick is how often checks are evaluated between rounds, to catch a
	// breach early (default: the shorter of 1s and Interval).
	Tick time.Duration
	// FirstRound numbers the first round; rounds continue across the weights
	// of one traffic step.
	FirstRound int
	// Keep is how many recorded rounds the result keeps, the last ones
	// (default 20). The failing or inconclusive round is the last, so kept.
	Keep int
	// BaselineIdle says the live slot serves no traffic at this weight
	// (100, or a first install): compare checks have no baseline then and
	// are left out, not held as inconclusive for ever.
	BaselineIdle bool `json:",omitempty"`
	// Score, when set, weighs the checks into a score (Judge): a score
	// below marginal fails the bake at once, and the bake passes when some
	// evaluation scored a pass, not when every check passed once.
	Score *ScorePolicy `json:",omitempty"`
}

// BakeResult is the outcome of a bake.
type BakeResult struct {
	// Verdict is Fail at the first failing evaluation; Inconclusive when some
	// check never passed in the whole bake (too little data); else Pass.
	Verdict Verdict
	// Rounds are the last Keep recorded rounds, in order, without the raw
	// samples of compare checks.
	Rounds []MeasureResult
	// Decisive is the evaluation that decided a Fail, or the last round of an
	// Inconclusive bake, with samples and a Detail; nil on Pass.
	Decisive *MeasureResult
	// NextRound is FirstRound plus the number of rounds recorded.
	NextRound int
	// Elapsed is how long the bake ran, attempts before a retry included.
	Elapsed time.Duration
}

// BakeProgress is a bake's heartbeat: what a person sees while it runs, and
// what a retried attempt resumes from.
type BakeProgress struct {
	Elapsed   time.Duration
	NextRound int
	// Last is the latest evaluation, without samples.
	Last *MeasureResult
	// Rounds are the last few recorded rounds, without samples.
	Rounds []MeasureResult
	// Passed says, per input check, whether it has passed yet, so that a
	// resumed bake still knows which checks never did.
	Passed []bool
	// ScorePassed says whether a scored evaluation has passed yet.
	ScorePassed bool `json:",omitempty"`
}

// Clock is Bake's time source, so that tests need not wait for real time.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or returns ctx.Err() as soon as ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Bake analyses a traffic weight for in.Duration. It evaluates every check
// every Tick and ends at the first failing evaluation, so that a rollback
// follows a breach within a tick of the window showing it; every Interval it
// records the current evaluation as a round. It heartbeats each tick and a
// retried attempt resumes from the last heartbeat. Cancelling ctx (promote,
// pause, abort) stops it at once with ctx.Err().
//
// Providers are primed first (see prime). An evaluation in which a provider
// errs decides nothing and the next tick tries again; one check erring for
// more than three Intervals fails the activity, for Temporal to retry. Invalid
// checks fail it without retry.
func (a *Activities) Bake(ctx context.Context, in BakeInput) (BakeResult, error) {
	b, err := a.newBake(in)
	if err != nil {
		return BakeResult{}, err
	}
	b.resume(ctx)
	b.judgeFrom(b.clock.Now())
	if err := b.prime(ctx); err != nil {
		return BakeResult{}, err
	}
	return b.run(ctx)
}

// judgeFrom makes every check measure traffic from t on only: what the same
// backend served before this bake (an earlier weight, an earlier release)
// must not decide it.
func (b *bake) judgeFrom(t time.Time) {
	for i := range b.in.Checks {
		b.in.Checks[i].Query.Since = t
		b.in.Checks[i].Baseline.Since = t
	}
}

// bake is the state of one Bake call.
type bake struct {
	a     *Activities
	in    BakeInput // with defaults applied
	clock Clock
	start time.Time // moved back by the elapsed time of a resumed attempt
	total int       // rounds to record

	next   int             // number of the next round
	rounds []MeasureResult // recorded, without samples, at most Keep
	last   MeasureResult   // the newest recorded round, with samples
	passed []bool          // per check
	scored bool            // a scored evaluation passed
	// skipped are the compare checks left out for want of a baseline.
	skipped []string
	erring  map[int]time.Duration // check index -> elapsed time its provider began erring
}

func (a *Activities) newBake(in BakeInput) (*bake, error) {
	if len(in.Checks) == 0 {
		return nil, invalid("bake needs at least one check")
	}
	var skipped []string
	if in.BaselineIdle {
		in.Checks, skipped = withoutCompare(in.Checks)
	}
	if in.Interval <= 0 || in.Duration < 0 || in.Tick < 0 {
		return nil, invalid("bake needs Interval > 0, Duration >= 0 and Tick >= 0; got %s, %s, %s", in.Interval, in.Duration, in.Tick)
	}
	if in.Duration == 0 {
		in.Duration = in.Interval
	}
	if in.Tick == 0 {
		in.Tick = min(DefaultBakeTick, in.Interval)
	}
	if in.Keep <= 0 {
		in.Keep = DefaultBakeKeep
	}
	in.Checks = withWindow(in.Checks, in.Interval)
	clock := a.Clock
	if clock == nil {
		clock = realClock{}
	}
	return &bake{
		a: a, in: in, clock: clock, start: clock.Now(), skipped: skipped,
		total:  int((in.Duration + in.Interval - 1) / in.Interval),
		next:   in.FirstRound,
		passed: make([]bool, len(in.Checks)),
		erring: map[int]time.Duration{},
	}, nil
}

// withoutCompare returns checks without the compare ones, and their names.
func withoutCompare(checks []Check) (kept []Check, dropped []string) {
	for i, c := range checks {
		if c.Kind == KindCompare {
			dropped = append(dropped, checkName(i, c))
			continue
		}
		kept = append(kept, c)
	}
	return kept, dropped
}

// withWindow returns a copy of checks whose unset windows are interval, so
// that each round judges the traffic of its own interval.
func withWindow(checks []Check, interval time.Duration) []Check {
	out := slices.Clone(checks)
	for i := range out {
		if out[i].Query.Window == 0 {
			out[i].Query.Window = interval
		}
		if out[i].Kind == KindCompare && out[i].Baseline.Window == 0 {
			out[i].Baseline.Window = interval
		}
	}
	return out
}

// resume continues from the heartbeat of a previous attempt, if any, so that a
// worker crash or a long provider outage does not restart the bake from zero.
func (b *bake) resume(ctx context.Context) {
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return
	}
	var p BakeProgress
	if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
		activity.GetLogger(ctx).Warn("Bake: ignoring unreadable heartbeat details", "Error", err)
		return
	}
	if p.Elapsed < 0 || p.NextRound < b.in.FirstRound {
		return // not from this input
	}
	b.start = b.start.Add(-p.Elapsed)
	b.next = p.NextRound
	b.rounds = keepLast(p.Rounds, b.in.Keep)
	if len(b.rounds) > 0 {
		b.last = b.rounds[len(b.rounds)-1]
	}
	if len(p.Passed) == len(b.passed) {
		copy(b.passed, p.Passed)
	}
	b.scored = p.ScorePassed
}

// prime queries every check once and drops the answers: delta-based providers
// (edge) answer a series' first query as inconclusive, and a bake must not
// spend its first tick or window on that. Only cancellation and invalid checks
// stop the bake here; other errors will show in the first evaluation.
func (b *bake) prime(ctx context.Context) error {
	for i, c := range b.in.Checks {
		_, err := b.a.measure(ctx, c)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if nonRetryable(err) {
			return fmt.Errorf("check %d (%q): %w", i, c.Name, err)
		}
	}
	return nil
}

func (b *bake) run(ctx context.Context) (BakeResult, error) {
	for b.recorded() < b.total {
		if err := b.clock.Sleep(ctx, b.wait()); err != nil {
			return BakeResult{}, err
		}
		elapsed := b.elapsed()
		final := b.recorded()+1 == b.total && elapsed >= b.roundAt(b.total)
		ev, errs, err := b.evaluate(ctx, final)
		if err != nil {
			return BakeResult{}, err
		}
		if ev.Verdict == Fail {
			return b.fail(ev), nil
		}
		if err := b.tooLong(errs, elapsed); err != nil {
			return BakeResult{}, err
		}
		if b.due(elapsed, len(errs) > 0) {
			b.record(ev)
		}
		b.heartbeat(ctx, ev)
	}
	return b.finish(), nil
}

// due says whether an evaluation at elapsed is recorded as the next round.
// One with provider errors decides nothing but is still recorded on schedule,
// to show the outage, except as the last round: the bake does not end on it.
func (b *bake) due(elapsed time.Duration, erred bool) bool {
	k := b.recorded() + 1
	return elapsed >= b.roundAt(k) && !(erred && k == b.total)
}

// wait is how long to sleep before the next evaluation: a tick, or less to
// evaluate exactly when the next round is due.
func (b *bake) wait() time.Duration {
	d := b.in.Tick
	if r := b.roundAt(b.recorded()+1) - b.elapsed(); r > 0 && r < d {
		d = r
	}
	return d
}

// roundAt is when round k (from 1) of the bake is due; the last one is due at
// the end even when Duration is not a multiple of Interval.
func (b *bake) roundAt(k int) time.Duration {
	return min(time.Duration(k)*b.in.Interval, b.in.Duration)
}

func (b *bake) elapsed() time.Duration { return b.clock.Now().Sub(b.start) }

func (b *bake) recorded() int { return b.next - b.in.FirstRound }

// evaluate runs every check once, returning the provider errors by check
// index. A check whose provider erred shows as inconclusive with the error, so
// that a person watching the heartbeat sees it. A compare check decides only
// in the bake's final evaluation: a significance test repeated every second
// would fail a healthy canary sooner or later (at alpha 0.05, one bake in two
// over a minute), so before then its failure is shown, not acted on.
func (b *bake) evaluate(ctx context.Context, final bool) (MeasureResult, map[int]error, error) {
	res := MeasureResult{Round: b.next}
	errs := map[int]error{}
	for i, c := range b.in.Checks {
		m, err := b.a.measure(ctx, c)
		switch {
		case ctx.Err() != nil:
			return res, nil, ctx.Err()
		case nonRetryable(err):
			return res, nil, fmt.Errorf("check %d (%q): %w", i, c.Name, err)
		case err != nil:
			errs[i] = fmt.Errorf("check %d (%q): %w", i, c.Name, err)
			m.Verdict, m.Detail = Inconclusive, "provider error: "+err.Error()
		case m.Verdict == Pass:
			b.passed[i] = true
		case m.Verdict == Fail && c.Kind == KindCompare && !final:
			m.Verdict, m.Detail = Inconclusive, "decided at the end of the bake; now: "+m.Detail
		}
		res.Measurements = append(res.Measurements, m)
	}
	countVerdicts(ctx, res.Measurements)
	res.Verdict, res.Score = Judge(b.in.Checks, res.Measurements, b.in.Score)
	if len(b.in.Checks) == 0 {
		// Only compare checks, left out for want of a baseline: the weight
		// bakes for its time with nothing to judge (record says why).
		res.Verdict = Pass
	}
	if res.Score != nil && res.Verdict == Pass {
		b.scored = true
	}
	return res, errs, nil
}

// tooLong tracks since when each check's provider has been erring and returns
// the error of one erring for more than bakeErrorIntervals intervals: a blip
// is retried at the next tick, an outage fails the activity so that Temporal
// retries it, resuming from the heartbeat.
func (b *bake) tooLong(errs map[int]error, elapsed time.Duration) error {
	for i := range b.in.Checks {
		err, erring := errs[i]
		since, was := b.erring[i]
		switch {
		case !erring:
			delete(b.erring, i)
		case !was:
			b.erring[i] = elapsed
		case elapsed-since > bakeErrorIntervals*b.in.Interval:
			return fmt.Errorf("metrics provider erring for %s: %w", elapsed-since, err)
		}
	}
	return nil
}

// record keeps ev as the next round: in full as the last one, and without
// samples among the last Keep.
func (b *bake) record(ev MeasureResult) {
	ev.Round = b.next
	if len(b.skipped) > 0 && ev.Detail == "" {
		ev.Detail = "not compared, the live slot serves no traffic at this weight: " + strings.Join(b.skipped, ", ")
	}
	b.last = ev
	b.rounds = keepLast(append(b.rounds, stripped(ev)), b.in.Keep)
	b.next++
}

// fail records the failing evaluation as a round and decides on it.
func (b *bake) fail(ev MeasureResult) BakeResult {
	ev.Detail = "failed: " + strings.Join(b.names(ev, func(i int, m Measurement) bool { return m.Verdict == Fail }), ", ")
	if ev.Score != nil {
		ev.Detail = ev.Score.String()
	}
	b.record(ev)
	return b.result(Fail, &ev)
}

// finish passes the bake when every check passed at least once; otherwise the
// last round decides an Inconclusive.
func (b *bake) finish() BakeResult {
	never := b.names(b.last, func(i int, _ Measurement) bool { return !b.passed[i] })
	if b.in.Score != nil {
		never = nil
		if !b.scored {
			never = []string{"the score"}
		}
	}
	if len(never) == 0 {
		return b.result(Pass, nil)
	}
	d := b.last
	d.Detail = fmt.Sprintf("never passed in %s of baking: %s", b.elapsed().Round(time.Second), strings.Join(never, ", "))
	if d.Score != nil {
		d.Detail += "; last " + d.Score.String()
	}
	if n := len(b.rounds); n > 0 && b.rounds[n-1].Round == d.Round {
		b.rounds[n-1].Detail = d.Detail
	}
	return b.result(Inconclusive, &d)
}

// names lists the checks matching pick, by the measurements of r when it has
// them (a resumed bake's last round is what the heartbeat kept).
func (b *bake) names(r MeasureResult, pick func(int, Measurement) bool) []string {
	var out []string
	for i, c := range b.in.Checks {
		var m Measurement
		if i < len(r.Measurements) {
			m = r.Measurements[i]
		}
		if pick(i, m) {
			out = append(out, checkName(i, c))
		}
	}
	return out
}

func checkName(i int, c Check) string {
	if c.Name == "" {
		return fmt.Sprintf("check %d", i)
	}
	return fmt.Sprintf("%q", c.Name)
}

func (b *bake) result(v Verdict, decisive *MeasureResult) BakeResult {
	return BakeResult{Verdict: v, Rounds: b.rounds, Decisive: decisive, NextRound: b.next, Elapsed: b.elapsed()}
}

func (b *bake) heartbeat(ctx context.Context, ev MeasureResult) {
	if !activity.IsActivity(ctx) {
		return
	}
	last := stripped(ev)
	activity.RecordHeartbeat(ctx, BakeProgress{
		Elapsed:   b.elapsed(),
		NextRound: b.next,
		Last:      &last,
		Rounds:    keepLast(b.rounds, progressRounds),
		Passed:    slices.Clone(b.passed),
		// A resumed bake must still know a score passed.
		ScorePassed: b.scored,
	})
}

// stripped returns r without the raw samples of compare checks, which may be
// large: only the decisive evaluation keeps them.
func stripped(r MeasureResult) MeasureResult {
	r.Measurements = slices.Clone(r.Measurements)
	for i := range r.Measurements {
		r.Measurements[i].CanarySamples, r.Measurements[i].BaselineSamples = nil, nil
	}
	return r
}

// keepLast returns the last n of rs, in a new array once it drops some so
// that the old rounds can be collected.
func keepLast(rs []MeasureResult, n int) []MeasureResult {
	if len(rs) <= n {
		return rs
	}
	return slices.Clone(rs[len(rs)-n:])
}

func nonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}
