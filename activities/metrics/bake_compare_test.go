package metrics

import (
	"context"
	"strings"
	"testing"
	"time"
)

// compareCheck compares "canary" with "base", both raw observations.
func compareCheck(minDiff float64) Check {
	return Check{Name: "vs-live", Kind: KindCompare, Provider: "p", MinSamples: 5,
		Query: Query{Expr: "canary", Step: time.Second}, Baseline: Query{Expr: "base", Step: time.Second}, MinDifference: minDiff}
}

// samples answers canary observations worse than base by worse.
func samples(worse float64) func(Query, time.Duration) (Sample, error) {
	return func(q Query, _ time.Duration) (Sample, error) {
		vals := []float64{1, 2, 3, 4, 5, 6, 7, 8}
		if q.Expr == "canary" {
			for i := range vals {
				vals[i] += worse
			}
		}
		return Sample{Values: vals, Value: vals[len(vals)-1]}, nil
	}
}

// A worse canary fails compare in every evaluation, but the bake acts on
// it only in its final one: a test every second would fail healthy
// canaries by chance.
func TestBakeJudgesCompareAtItsEnd(t *testing.T) {
	clock := newFakeClock()
	a, _ := bakeWith(newScript(clock, samples(10)))
	res, err := a.Bake(context.Background(), BakeInput{Checks: []Check{compareCheck(0)}, Interval: 10 * time.Second, Duration: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Fail || res.Elapsed != 30*time.Second || len(res.Rounds) != 3 {
		t.Fatalf("bake %+v, want a fail at the end (30s), after 3 rounds", res)
	}
	first := res.Rounds[0].Measurements[0]
	if first.Verdict != Inconclusive || !strings.HasPrefix(first.Detail, "decided at the end of the bake; now: Mann-Whitney") {
		t.Errorf("first round's compare %+v, want shown but not acted on", first)
	}
}

func TestCompareMinDifference(t *testing.T) {
	clock := newFakeClock()
	a, _ := bakeWith(newScript(clock, samples(10)))
	res, err := a.Bake(context.Background(), BakeInput{Checks: []Check{compareCheck(20)}, Interval: 10 * time.Second, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Rounds[0].Measurements[0]; res.Verdict != Pass || m.Verdict != Pass || !strings.Contains(m.Detail, "less than min-difference 20") {
		t.Errorf("bake %+v (%+v), want a pass: the medians differ by 10, less than 20", res, m)
	}
}

// At weight 100 the live slot serves nothing: compare is left out, and a
// bake of compare checks only bakes its time and passes, saying why.
func TestBakeLeavesCompareOutWithoutBaseline(t *testing.T) {
	clock := newFakeClock()
	p := newScript(clock, samples(10))
	a, _ := bakeWith(p)
	res, err := a.Bake(context.Background(), BakeInput{Checks: []Check{compareCheck(0)}, Interval: 10 * time.Second, Duration: 20 * time.Second, BaselineIdle: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Pass || len(res.Rounds) != 2 || len(p.queries) != 0 ||
		!strings.Contains(res.Rounds[0].Detail, `not compared, the live slot serves no traffic at this weight: "vs-live"`) {
		t.Fatalf("bake %+v with %d queries, want a pass of 2 rounds that queried nothing and say why", res, len(p.queries))
	}
}
