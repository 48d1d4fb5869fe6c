package metrics

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func TestJudgeScores(t *testing.T) {
	checks := []Check{{Name: "errors", Weight: 3}, {Name: "p99", Weight: 1}, {Name: "queue"}, {Name: "saturation", Critical: true}}
	policy := &ScorePolicy{Pass: 90, Marginal: 60}
	ms := func(vs ...Verdict) []Measurement {
		out := make([]Measurement, len(vs))
		for i, v := range vs {
			out[i] = Measurement{Check: checks[i].Name, Verdict: v}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		ms     []Measurement
		want   Verdict
		score  float64
		detail string
	}{
		{"all pass", ms(Pass, Pass, Pass, Pass), Pass, 100, "score 100 >= pass 90"},
		{"light one fails: marginal", ms(Pass, Fail, Pass, Pass), Inconclusive, 500.0 / 6, "marginal"},
		{"heavy one fails", ms(Fail, Pass, Pass, Pass), Fail, 50, "score 50 < marginal 60"},
		{"critical fails alone", ms(Pass, Pass, Pass, Fail), Fail, 500.0 / 6, "critical saturation failed"},
		{"critical without data", ms(Pass, Pass, Pass, Inconclusive), Inconclusive, 100, "critical saturation inconclusive"},
		{"no data is left out", ms(Pass, Inconclusive, Pass, Pass), Pass, 100, "score 100"},
		{"too little weight with data", ms(Inconclusive, Inconclusive, Pass, Pass), Inconclusive, 100, "only 33% of the weight returned data"},
	} {
		v, s := Judge(checks, c.ms, policy)
		if v != c.want || s == nil || math.Abs(float64(s.Value)-c.score) > 1e-9 || !strings.Contains(s.Detail, c.detail) {
			t.Errorf("%s: %v %+v, want %v score %.2f (%q)", c.name, v, s, c.want, c.score, c.detail)
			continue
		}
		var points float64
		for _, k := range s.Contributions {
			points += k.Points
		}
		if math.Abs(points-c.score) > 1e-9 {
			t.Errorf("%s: contributions add up to %g, not the score %g", c.name, points, c.score)
		}
	}
	if v, s := Judge(checks, ms(Pass, Fail, Pass, Pass), nil); v != Fail || s != nil {
		t.Errorf("without a policy: %v %v, want the worst verdict and no score", v, s)
	}
	_, s := Judge(checks, ms(Fail, Pass, Pass, Pass), policy)
	if got := s.String(); !strings.Contains(got, "errors fail +0 (weight 3)") || !strings.Contains(got, "saturation pass +17 (weight 1 critical)") {
		t.Errorf("score text %q, want each check's points and weight", got)
	}
}

// A scored bake fails at the first evaluation below marginal, and passes
// when a score passed even though a light check never did.
func TestBakeWithScore(t *testing.T) {
	heavy, light := errorCheck("errors"), errorCheck("p99")
	heavy.Weight = 9
	policy := &ScorePolicy{Pass: 80, Marginal: 50}

	clock := newFakeClock()
	p := newScript(clock, value(func(q Query, _ time.Duration) float64 {
		if q.Expr == "p99" {
			return 0.5 // always fails
		}
		return 0.01
	}))
	a, _ := bakeWith(p)
	res, err := a.Bake(context.Background(), BakeInput{Checks: []Check{heavy, light}, Interval: 10 * time.Second, Duration: 20 * time.Second, Score: policy})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Pass || res.Rounds[0].Score == nil || float64(res.Rounds[0].Score.Value) != 90 {
		t.Fatalf("scored bake %+v, want a pass at score 90 though p99 never passed", res)
	}

	const breach = 7 * time.Second
	clock = newFakeClock()
	p = newScript(clock, value(func(q Query, elapsed time.Duration) float64 {
		if q.Expr == "errors" && elapsed >= breach {
			return 0.5
		}
		return 0.01
	}))
	a, _ = bakeWith(p)
	res, err = a.Bake(context.Background(), BakeInput{Checks: []Check{heavy, light}, Interval: 10 * time.Second, Duration: 30 * time.Second, Score: policy})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Fail || res.Elapsed != breach || res.Decisive == nil || !strings.HasPrefix(res.Decisive.Detail, "score 10 < marginal 50") {
		t.Fatalf("scored bake %+v (decisive %+v), want a fail at %s on the score", res, res.Decisive, breach)
	}
}
