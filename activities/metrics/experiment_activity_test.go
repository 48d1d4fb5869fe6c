package metrics

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestExperimentActivityRate(t *testing.T) {
	p := fake{
		"good{off}@1m0s": {s: Sample{Value: 119.6}}, "total{off}@1m0s": {s: Sample{Value: 400.2}},
		"good{on}@1m0s": {s: Sample{Value: 40}}, "total{on}@1m0s": {s: Sample{Value: 400}},
		// The on variant's conversions have no series yet.
		"none{on}@1m0s": {err: Inconclusivef("no data")},
	}
	a := &Activities{Providers: map[string]Provider{"p": p}}
	in := ExperimentInput{Metric: "conversion", Kind: "rate", Provider: "p", Window: time.Minute,
		Off: VariantQueries{Good: "good{off}", Total: "total{off}"}, On: VariantQueries{Good: "good{on}", Total: "total{on}"},
		MaxHarm: 0.02, Confidence: 0.95, MinSamples: 100}
	r, err := a.Experiment(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Metric != "conversion" || r.Verdict != ExperimentHarm || r.NControl != 400 || r.Control != 0.3 {
		t.Errorf("result %+v, want harm over 400 rounded samples, control 0.3", r)
	}
	in.On.Good = "none{on}"
	if r, err := a.Experiment(context.Background(), in); err != nil || r.Verdict != ExperimentHarm || r.Treatment != 0 {
		t.Errorf("no conversions on: %+v %v, want 0 conversions counted (harm)", r, err)
	}
	in.On.Total = "missing"
	if _, err := a.Experiment(context.Background(), in); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a provider error: %v, want it returned for a retry", err)
	}
}

func TestExperimentActivityValueTooFew(t *testing.T) {
	p := fake{"v{off}@1m0s": {s: Sample{Values: seq(1, 5)}}, "v{on}@1m0s": {s: Sample{Values: seq(1, 50)}}}
	a := &Activities{Providers: map[string]Provider{"p": p}}
	r, err := a.Experiment(context.Background(), ExperimentInput{Metric: "basket", Kind: "value", Provider: "p", Window: time.Minute,
		Off: VariantQueries{Value: "v{off}"}, On: VariantQueries{Value: "v{on}"}, Confidence: 0.95, MinSamples: 10})
	if err != nil || r.Verdict != ExperimentInconclusive || !strings.Contains(r.Detail, "control 5") {
		t.Errorf("5 control values: %+v %v, want inconclusive", r, err)
	}
}
