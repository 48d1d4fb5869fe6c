package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// VariantQueries are one variant's queries of an experiment's template,
// ${variant} already replaced: Good and Total for a rate, Value for a value.
type VariantQueries struct {
	Good, Total, Value string `json:",omitempty"`
}

// ExperimentInput is one comparison of a flag's variants over a bake.
type ExperimentInput struct {
	Metric string
	Kind   string // rate or value
	// Provider and Options name the environment's metrics provider.
	Provider string
	Options  map[string]string
	// On is the treatment, Off the control.
	On, Off VariantQueries
	// Window is the bake's length and Since its start: the comparison
	// judges the traffic of this stage only.
	Window time.Duration
	Since  time.Time
	// Step is the resolution of a value metric's observations.
	Step       time.Duration
	MaxHarm    float64
	Confidence float64
	MinSamples int
}

// Experiment queries the metric for both variants and compares them
// (TwoProportion for rates, ValueDifference for values). A variant without
// data counts as no samples, so the result is inconclusive, never a pass;
// other provider errors fail the activity for Temporal to retry.
func (a *Activities) Experiment(ctx context.Context, in ExperimentInput) (ExperimentResult, error) {
	p, err := a.provider(Check{Provider: in.Provider, Options: in.Options})
	if err != nil {
		return ExperimentResult{}, err
	}
	var r ExperimentResult
	switch in.Kind {
	case "rate":
		r, err = a.rateExperiment(ctx, p, in)
	case "value":
		r, err = a.valueExperiment(ctx, p, in)
	default:
		return ExperimentResult{}, invalid("experiment kind %q is not rate or value", in.Kind)
	}
	r.Metric = in.Metric
	return r, err
}

func (a *Activities) rateExperiment(ctx context.Context, p Provider, in ExperimentInput) (ExperimentResult, error) {
	var n [4]float64 // good off, total off, good on, total on
	for i, expr := range []string{in.Off.Good, in.Off.Total, in.On.Good, in.On.Total} {
		v, err := a.count(ctx, p, in, expr)
		if err != nil {
			return ExperimentResult{}, fmt.Errorf("experiment %s: %w", in.Metric, err)
		}
		n[i] = v
	}
	return TwoProportion(n[0], n[1], n[2], n[3], in.MaxHarm, in.Confidence, in.MinSamples), nil
}

// count answers a counter's increase over the window, rounded (Prometheus
// extrapolates increase to the window's edges); no data is 0.
func (a *Activities) count(ctx context.Context, p Provider, in ExperimentInput, expr string) (float64, error) {
	s, err := p.Query(ctx, Query{Expr: expr, Window: in.Window, Since: in.Since})
	switch {
	case errors.Is(err, ErrInconclusive):
		return 0, nil
	case err != nil:
		return 0, err
	case math.IsNaN(s.Value) || s.Value < 0:
		return 0, nil
	}
	return math.Round(s.Value), nil
}

func (a *Activities) valueExperiment(ctx context.Context, p Provider, in ExperimentInput) (ExperimentResult, error) {
	var sides [2][]float64
	for i, expr := range []string{in.Off.Value, in.On.Value} {
		s, err := p.Query(ctx, Query{Expr: expr, Window: in.Window, Since: in.Since, Step: in.Step})
		if err != nil && !errors.Is(err, ErrInconclusive) {
			return ExperimentResult{}, fmt.Errorf("experiment %s: %w", in.Metric, err)
		}
		sides[i] = s.Values
	}
	return ValueDifference(sides[0], sides[1], in.MaxHarm, in.Confidence, in.MinSamples), nil
}
