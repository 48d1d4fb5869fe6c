package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// fakeClock advances only when slept on, so a bake of minutes takes none.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

// script is a provider answering by the time since it was made: answer gets
// the query and that elapsed time. It records every query.
type script struct {
	clock  *fakeClock
	start  time.Time
	answer func(q Query, elapsed time.Duration) (Sample, error)

	mu      sync.Mutex
	queries []Query
	times   []time.Duration
}

func newScript(clock *fakeClock, answer func(Query, time.Duration) (Sample, error)) *script {
	return &script{clock: clock, start: clock.Now(), answer: answer}
}

func (s *script) Query(_ context.Context, q Query) (Sample, error) {
	elapsed := s.clock.Now().Sub(s.start)
	s.mu.Lock()
	s.queries = append(s.queries, q)
	s.times = append(s.times, elapsed)
	s.mu.Unlock()
	return s.answer(q, elapsed)
}

// value answers v, but the first query of each expression is inconclusive,
// as the edge provider's first scrape is.
func value(v func(q Query, elapsed time.Duration) float64) func(Query, time.Duration) (Sample, error) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(q Query, elapsed time.Duration) (Sample, error) {
		mu.Lock()
		first := !seen[q.Expr]
		seen[q.Expr] = true
		mu.Unlock()
		if first {
			return Sample{}, Inconclusivef("first scrape")
		}
		return Sample{Value: v(q, elapsed)}, nil
	}
}

func bakeWith(p Provider) (*Activities, *fakeClock) {
	c := p.(*script).clock
	return &Activities{Providers: map[string]Provider{"p": p}, Clock: c}, c
}

func errorCheck(name string) Check {
	return Check{Name: name, Kind: KindErrorRatio, Provider: "p", Query: Query{Expr: name}, Max: 0.05}
}

func wantRounds(t *testing.T, rs []MeasureResult, want ...int) {
	t.Helper()
	got := make([]int, len(rs))
	for i, r := range rs {
		got[i] = r.Round
	}
	if !slices.Equal(got, want) {
		t.Errorf("rounds %v, want %v", got, want)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBakePassesOverSeveralRounds(t *testing.T) {
	clock := newFakeClock()
	p := newScript(clock, value(func(Query, time.Duration) float64 { return 0.01 }))
	a, _ := bakeWith(p)
	latency := Check{Name: "p99", Kind: KindLatency, Provider: "p", Query: Query{Expr: "p99", Window: time.Minute}, Max: 0.5}
	res, err := a.Bake(context.Background(), BakeInput{
		Checks:   []Check{errorCheck("errors"), latency},
		Interval: 10 * time.Second, Duration: 30 * time.Second, FirstRound: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Pass || res.Decisive != nil || res.NextRound != 7 || res.Elapsed != 30*time.Second {
		t.Fatalf("result %+v, want a pass of rounds 4-6 in 30s", res)
	}
	wantRounds(t, res.Rounds, 4, 5, 6)
	for _, r := range res.Rounds {
		if r.Verdict != Pass || len(r.Measurements) != 2 {
			t.Errorf("round %d: %+v", r.Round, r)
		}
	}
	// Primed once, then evaluated every second (the default tick).
	if n := len(p.queries); n != 2+2*30 {
		t.Errorf("%d queries, want 62 (2 to prime, 2 a second for 30s)", n)
	}
	for _, q := range p.queries {
		if want := map[string]time.Duration{"errors": 10 * time.Second, "p99": time.Minute}[q.Expr]; q.Window != want {
			t.Errorf("%s queried over %s, want %s (unset windows are the interval)", q.Expr, q.Window, want)
		}
	}
}

func TestBakeFailsAtOnce(t *testing.T) {
	clock := newFakeClock()
	const breach = 14500 * time.Millisecond
	p := newScript(clock, func(q Query, elapsed time.Duration) (Sample, error) {
		switch {
		case q.Expr == "canary" || q.Expr == "baseline":
			return Sample{Values: seq(0, 12)}, nil // alike: compare passes
		case elapsed > breach:
			return Sample{Value: 0.3}, nil
		default:
			return Sample{Value: 0.01}, nil
		}
	})
	a, _ := bakeWith(p)
	cmp := Check{Name: "latency vs baseline", Kind: KindCompare, Provider: "p", Query: Query{Expr: "canary"}, Baseline: Query{Expr: "baseline"}}
	interval := 10 * time.Second
	res, err := a.Bake(context.Background(), BakeInput{
		Checks:   []Check{cmp, errorCheck("error ratio")},
		Interval: interval, Duration: time.Hour, FirstRound: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Fail || res.NextRound != 3 || res.Elapsed > breach+interval+time.Second {
		t.Fatalf("result %+v, want a fail in round 2 within an interval and a second of %s", res, breach)
	}
	if res.Elapsed != 15*time.Second {
		t.Errorf("failed after %s, want 15s: the first tick after the breach", res.Elapsed)
	}
	wantRounds(t, res.Rounds, 1, 2)
	d := res.Decisive
	if d == nil || d.Round != 2 || d.Verdict != Fail || d.Detail != `failed: "error ratio"` {
		t.Fatalf("decisive %+v", d)
	}
	if len(d.Measurements[0].CanarySamples) != 12 || len(d.Measurements[0].BaselineSamples) != 12 {
		t.Errorf("decisive lost the compare samples: %+v", d.Measurements[0])
	}
	for _, r := range res.Rounds {
		if m := r.Measurements[0]; m.CanarySamples != nil || m.BaselineSamples != nil {
			t.Errorf("round %d keeps compare samples", r.Round)
		}
	}
	if res.Rounds[1].Verdict != Fail || res.Rounds[1].Detail != d.Detail {
		t.Errorf("failing round as kept: %+v", res.Rounds[1])
	}
	for _, q := range p.queries {
		if q.Window != interval {
			t.Errorf("%s over %s, want the interval", q.Expr, q.Window)
		}
	}
}

func TestBakeInconclusiveWhenACheckNeverPasses(t *testing.T) {
	clock := newFakeClock()
	p := newScript(clock, func(q Query, elapsed time.Duration) (Sample, error) {
		switch {
		case q.Expr == "quiet":
			return Sample{}, Inconclusivef("no requests")
		case q.Expr == "once" && elapsed != 5*time.Second:
			return Sample{}, Inconclusivef("no requests")
		}
		return Sample{Value: 0}, nil
	})
	a, _ := bakeWith(p)
	res, err := a.Bake(context.Background(), BakeInput{
		Checks:   []Check{errorCheck("busy"), errorCheck("quiet"), errorCheck("once")},
		Interval: 10 * time.Second, Duration: 20 * time.Second, FirstRound: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Inconclusive || res.NextRound != 3 {
		t.Fatalf("result %+v, want inconclusive after 2 rounds", res)
	}
	wantRounds(t, res.Rounds, 1, 2)
	d := res.Decisive
	if d == nil || d.Round != 2 || d.Detail != `never passed in 20s of baking: "quiet"` {
		t.Fatalf("decisive %+v, want round 2 naming only the quiet check", d)
	}
	if res.Rounds[1].Detail != d.Detail {
		t.Errorf("last round as kept: %+v", res.Rounds[1])
	}
}

func TestBakeKeepsTheLastRounds(t *testing.T) {
	clock := newFakeClock()
	p := newScript(clock, func(q Query, _ time.Duration) (Sample, error) {
		return Sample{Values: seq(0, 500)}, nil
	})
	a, _ := bakeWith(p)
	cmp := Check{Name: "cmp", Kind: KindCompare, Provider: "p", Query: Query{Expr: "c"}, Baseline: Query{Expr: "b"}}
	res, err := a.Bake(context.Background(), BakeInput{
		Checks: []Check{cmp}, Interval: time.Second, Duration: 100 * time.Second, FirstRound: 1, Keep: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Pass || res.NextRound != 101 {
		t.Fatalf("result %+v", res)
	}
	wantRounds(t, res.Rounds, 98, 99, 100)
	if n := len(jsonOf(t, res)); n > 4096 {
		t.Errorf("result is %d bytes of JSON; samples should not be kept", n)
	}
}

func TestBakeRidesOutProviderErrors(t *testing.T) {
	down := errors.New("connection refused")
	outage := func(from, to time.Duration) func(Query, time.Duration) (Sample, error) {
		return func(_ Query, elapsed time.Duration) (Sample, error) {
			if elapsed >= from && elapsed <= to {
				return Sample{}, down
			}
			return Sample{Value: 0}, nil
		}
	}
	in := BakeInput{Checks: []Check{errorCheck("errors")}, Interval: 10 * time.Second, Duration: 40 * time.Second, FirstRound: 1}

	// Down from 5s to 25s: rounds 1 and 2 show the outage, the bake passes.
	a, _ := bakeWith(newScript(newFakeClock(), outage(5*time.Second, 25*time.Second)))
	res, err := a.Bake(context.Background(), in)
	if err != nil || res.Verdict != Pass {
		t.Fatalf("short outage: %+v, %v", res, err)
	}
	wantRounds(t, res.Rounds, 1, 2, 3, 4)
	if m := res.Rounds[0].Measurements[0]; m.Verdict != Inconclusive || !strings.Contains(m.Detail, "connection refused") {
		t.Errorf("round 1 during the outage: %+v", m)
	}

	// Down at the end: the last round waits for an answer.
	a, _ = bakeWith(newScript(newFakeClock(), outage(40*time.Second, 42*time.Second)))
	res, err = a.Bake(context.Background(), in)
	if err != nil || res.Verdict != Pass || res.Elapsed != 43*time.Second || res.Rounds[3].Measurements[0].Verdict != Pass {
		t.Fatalf("outage at the end: %+v, %v", res, err)
	}

	// Down for more than three intervals: the activity fails, to be retried.
	a, _ = bakeWith(newScript(newFakeClock(), outage(5*time.Second, time.Hour)))
	_, err = a.Bake(context.Background(), in)
	var appErr *temporal.ApplicationError
	if !errors.Is(err, down) || errors.As(err, &appErr) || !strings.Contains(err.Error(), "erring for 31s") {
		t.Fatalf("long outage: err = %v, want the retryable provider error after 3 intervals", err)
	}

	// An invalid check fails at once, without retry.
	a, _ = bakeWith(newScript(newFakeClock(), outage(0, 0)))
	_, err = a.Bake(context.Background(), BakeInput{Checks: []Check{{Name: "x", Kind: "vibes", Provider: "p"}}, Interval: time.Second})
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidCheck {
		t.Fatalf("invalid check: err = %v", err)
	}
	for _, bad := range []BakeInput{{Interval: time.Second}, {Checks: in.Checks}, {Checks: in.Checks, Interval: time.Second, Duration: -1}} {
		if _, err := a.Bake(context.Background(), bad); !errors.As(err, &appErr) || appErr.Type() != ErrTypeInvalidCheck {
			t.Errorf("%+v: err = %v, want invalid", bad, err)
		}
	}
}

// A retried attempt continues from the heartbeat of the previous one: its
// elapsed time, round numbers and which checks have passed.
func TestBakeResumesFromHeartbeat(t *testing.T) {
	clock := newFakeClock()
	p := newScript(clock, func(Query, time.Duration) (Sample, error) {
		return Sample{}, Inconclusivef("no requests")
	})
	a, _ := bakeWith(p)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	var mu sync.Mutex
	var beats []BakeProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var bp BakeProgress
		if err := details.Get(&bp); err != nil {
			t.Errorf("heartbeat details: %v", err)
		}
		mu.Lock()
		beats = append(beats, bp)
		mu.Unlock()
	})
	env.SetHeartbeatDetails(BakeProgress{
		Elapsed: 25 * time.Second, NextRound: 7,
		Rounds: []MeasureResult{{Round: 5, Verdict: Pass}, {Round: 6, Verdict: Inconclusive}},
		Passed: []bool{true},
	})
	// By name: the name clients look for is the name the worker serves.
	val, err := env.ExecuteActivity(BakeActivityName, BakeInput{
		Checks: []Check{errorCheck("errors")}, Interval: 10 * time.Second, Duration: 40 * time.Second, FirstRound: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	var res BakeResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Pass || res.NextRound != 9 || res.Elapsed != 40*time.Second {
		t.Fatalf("result %+v, want a pass of rounds 7 and 8 ending at 40s (the check passed before the retry)", res)
	}
	wantRounds(t, res.Rounds, 5, 6, 7, 8)
	if n := len(p.queries); n != 1+15 {
		t.Errorf("%d queries, want 16: a prime and 15 ticks from 25s to 40s", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(beats) == 0 {
		t.Fatal("no heartbeat")
	}
	if bp := beats[0]; bp.NextRound < 7 || bp.Elapsed <= 25*time.Second || bp.Last == nil || len(bp.Passed) != 1 || !bp.Passed[0] {
		t.Errorf("heartbeat %+v", bp)
	}
}

func TestBakeStopsWhenCancelled(t *testing.T) {
	// Cancelled while measuring (fake time).
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newScript(clock, func(_ Query, elapsed time.Duration) (Sample, error) {
		if elapsed >= 5*time.Second {
			cancel()
			return Sample{}, errors.New("request canceled")
		}
		return Sample{Value: 0}, nil
	})
	a, _ := bakeWith(p)
	in := BakeInput{Checks: []Check{errorCheck("errors")}, Interval: 10 * time.Second, Duration: time.Hour}
	if res, err := a.Bake(ctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while measuring: %+v, %v", res, err)
	}

	// Cancelled while waiting for the next tick (real time, an hour's tick).
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	primed := make(chan struct{})
	var once sync.Once
	a = &Activities{Providers: map[string]Provider{"p": providerFunc(func(context.Context, Query) (Sample, error) {
		once.Do(func() { close(primed) })
		return Sample{Value: 0}, nil
	})}}
	in.Interval, in.Tick = time.Hour, time.Hour
	done := make(chan error, 1)
	go func() {
		_, err := a.Bake(ctx, in)
		done <- err
	}()
	select {
	case <-primed:
	case <-time.After(10 * time.Second):
		t.Fatal("no query to prime the providers")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled while waiting: err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bake still running 10s after cancellation")
	}
}

type providerFunc func(context.Context, Query) (Sample, error)

func (f providerFunc) Query(ctx context.Context, q Query) (Sample, error) { return f(ctx, q) }
