package metrics

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestRatioAndCount covers what metric templates give a check: a ratio of
// two queries, and a count that keeps a handful of requests from passing.
func TestRatioAndCount(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := fake{
		"bad":      {s: Sample{Value: 3, At: at}},
		"good":     {s: Sample{Value: 97, At: at}},
		"total":    {s: Sample{Value: 100, At: at}},
		"zero":     {s: Sample{Value: 0, At: at}},
		"absent":   {err: Inconclusivef("no series")},
		"n-many":   {s: Sample{Value: 500}},
		"n-few":    {s: Sample{Value: 4}},
		"bad@5m0s": {s: Sample{Value: 2}}, "total@5m0s": {s: Sample{Value: 100}},
		"bad@1h0m0s": {s: Sample{Value: 20}}, "total@1h0m0s": {s: Sample{Value: 1000}},
	}
	a := &Activities{Providers: map[string]Provider{"prom": p}}
	ratio := func(name string, r Ratio, count string, max float64) Check {
		return Check{Name: name, Kind: KindErrorRatio, Provider: "prom", Ratio: &r, Count: count, MinCount: 10, Max: max}
	}
	for _, c := range []struct {
		check   Check
		verdict Verdict
		value   float64
		detail  string
	}{
		{ratio("bad over total", Ratio{Bad: "bad", Total: "total"}, "n-many", 0.05), Pass, 0.03, ""},
		{ratio("over the limit", Ratio{Bad: "bad", Total: "total"}, "", 0.01), Fail, 0.03, ""},
		{ratio("good over total", Ratio{Good: "good", Total: "total"}, "", 0.05), Pass, 0.03, ""},
		{ratio("too few requests", Ratio{Bad: "bad", Total: "total"}, "n-few", 0.05), Inconclusive, math.NaN(), "4 requests in the window, fewer than the 10"},
		{ratio("no requests", Ratio{Bad: "bad", Total: "zero"}, "", 0.05), Inconclusive, math.NaN(), "no requests in the window"},
		{ratio("absent bad, strict", Ratio{Bad: "absent", Total: "total"}, "", 0.05), Inconclusive, math.NaN(), "no series"},
		{ratio("absent bad is zero", Ratio{Bad: "absent", Total: "total", AbsentBadIsZero: true}, "", 0.05), Pass, 0, ""},
		{ratio("absent total", Ratio{Bad: "bad", Total: "absent", AbsentBadIsZero: true}, "", 0.05), Inconclusive, math.NaN(), "no series"},
	} {
		res, err := a.Measure(context.Background(), MeasureInput{Checks: []Check{c.check}})
		if err != nil {
			t.Errorf("%s: %v", c.check.Name, err)
			continue
		}
		m := res.Measurements[0]
		same := float64(m.Value) == c.value || (math.IsNaN(c.value) && math.IsNaN(float64(m.Value))) || math.Abs(float64(m.Value)-c.value) < 1e-12
		if m.Verdict != c.verdict || !same || !strings.Contains(m.Detail, c.detail) {
			t.Errorf("%s: %v %v (%s), want %v %v (%q)", c.check.Name, m.Verdict, m.Value, m.Detail, c.verdict, c.value, c.detail)
		}
	}

	// burn-rate reads the ratio over both windows.
	burn := Check{Name: "burn", Kind: KindBurnRate, Provider: "prom", Ratio: &Ratio{Bad: "bad", Total: "total"},
		Query: Query{Window: 5 * time.Minute}, LongWindow: time.Hour, SLOTarget: 0.999, BurnThreshold: 14.4}
	res, err := a.Measure(context.Background(), MeasureInput{Checks: []Check{burn}})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Measurements[0]; m.Verdict != Fail || math.Abs(float64(m.Value)-20) > 1e-9 || math.Abs(float64(m.Baseline)-20) > 1e-9 {
		t.Errorf("burn over a ratio = %+v, want 20x over both windows: fail", m)
	}

	// A provider error on either side is not an answer: the activity fails
	// (and Temporal retries) instead of deciding.
	broken := ratio("down", Ratio{Bad: "bad", Total: "unreachable"}, "", 0.05)
	if _, err := a.Measure(context.Background(), MeasureInput{Checks: []Check{broken}}); err == nil || !strings.Contains(err.Error(), "total: connection refused") {
		t.Errorf("err = %v, want the total query's error", err)
	}
	var nothing = Check{Name: "empty", Kind: KindQuery, Provider: "prom", Max: 1}
	if _, err := a.Measure(context.Background(), MeasureInput{Checks: []Check{nothing}}); err == nil || !strings.Contains(err.Error(), "measures nothing") {
		t.Errorf("err = %v, want a check without a query refused", err)
	}
	if !errors.Is(Inconclusivef("x"), ErrInconclusive) {
		t.Fatal("Inconclusivef must wrap ErrInconclusive")
	}
}

// ticking answers as a store of published ticks would: each tick files 10
// requests and 2 errors (20%), one tick a second, and its clock moves on a
// second between two queries, as a slow store's does.
type ticking struct{ now time.Time }

func (p *ticking) Query(_ context.Context, q Query) (Sample, error) {
	end := q.EndAt(p.now)
	p.now = p.now.Add(time.Second)
	ticks := float64(end.Unix()%1000 + 1)
	switch q.Expr {
	case "total":
		return Sample{Value: 10 * ticks, At: end}, nil
	case "bad":
		return Sample{Value: 2 * ticks, At: end}, nil
	}
	return Sample{}, errors.New("unknown expression " + q.Expr)
}

// TestRatioQueriesShareTheirEnd: the two queries of a ratio end at the same
// instant, given or not, so a tick published between them is counted by
// both or neither.
func TestRatioQueriesShareTheirEnd(t *testing.T) {
	for _, at := range []time.Time{{}, time.Unix(1003, 0)} {
		p := &ticking{now: time.Unix(1003, 0)}
		s, err := ratio(context.Background(), p, Ratio{Bad: "bad", Total: "total"}, Query{Window: time.Minute, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if s.Value != 0.2 {
			t.Errorf("ratio with end %v: %v, want the 0.2 published", at, s.Value)
		}
	}
}
