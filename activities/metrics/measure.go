package metrics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/telemetry"
)

// ErrTypeInvalidCheck is the Temporal error type of a check that can never run
// as written (unknown kind or provider, missing parameter): not retried.
const ErrTypeInvalidCheck = "MetricsCheckInvalid"

// Check kinds.
const (
	KindErrorRatio = "error-ratio"
	KindLatency    = "latency"
	KindQuery      = "query"
	KindCompare    = "compare"
	KindBurnRate   = "burn-rate"
)

// Defaults for Check fields left empty.
const (
	DefaultMinSamples = 10
	DefaultAlpha      = 0.05
)

// Check is one SLO check of an analysis round.
type Check struct {
	Name string
	// Kind is one of error-ratio, latency, query (threshold checks on one
	// value), compare (Mann-Whitney canary versus baseline) or burn-rate.
	Kind string
	// Provider names an entry of Activities.Providers, or, when none has
	// that name, a provider of Activities.Factories built from Options.
	Provider string
	// Options configure a provider built on demand (a runbook's
	// metrics.options); secrets are env:NAME references.
	Options map[string]string
	// Query is what to measure; for compare, the canary side; for burn-rate,
	// an error ratio whose Window is the short window.
	Query Query
	// Ratio, when set, makes the checked value a ratio of two queries
	// (error-ratio and burn-rate checks): Query gives the window, backend
	// and step, Ratio the expressions.
	Ratio *Ratio `json:",omitempty"`
	// Count, when set, is the expression of the number of requests behind
	// the answer over the same window; below MinCount the check is
	// inconclusive, never a pass.
	Count    string  `json:",omitempty"`
	MinCount float64 `json:",omitempty"`
	// Weight is the check's share of a scored round (0 means 1) and
	// Critical fails a scored round on its own (see Judge).
	Weight   float64 `json:",omitempty"`
	Critical bool    `json:",omitempty"`
	// Max is the highest passing value of threshold checks.
	Max float64
	// Baseline is the baseline side of a compare check. Both sides need raw
	// observations (Sample.Values): with prometheus, set Query.Step for a
	// range query; edge has none yet, so its compares are inconclusive.
	Baseline Query
	// MinSamples and Alpha tune compare (defaults 10 and 0.05);
	// MinDifference is the smallest worsening of the canary's median over
	// the baseline's that counts as a failure, however significant.
	MinSamples    int
	Alpha         float64
	MinDifference float64 `json:",omitempty"`
	// SLOTarget (e.g. 0.999), LongWindow and BurnThreshold (e.g. 14.4) tune burn-rate.
	SLOTarget     float64
	LongWindow    time.Duration
	BurnThreshold float64
}

// Ratio is a value measured as Bad/Total, or 1 - Good/Total.
type Ratio struct {
	Bad, Good, Total string
	// AbsentBadIsZero counts an inconclusive Bad (no series yet) as zero
	// when Total has data, for exporters that only create an error series
	// at the first error.
	AbsentBadIsZero bool `json:",omitempty"`
}

// MeasureInput is one analysis round.
type MeasureInput struct {
	// Round numbers the analysis rounds of a traffic step, for display.
	Round  int
	Checks []Check
	// Score, when set, weighs the checks into a score (Judge).
	Score *ScorePolicy `json:",omitempty"`
}

// Measurement is everything one check saw and decided. It is shown in
// `runbook status -o json` and the Web UI, hence the kebab-case keys.
type Measurement struct {
	Check   string  `json:"check"`
	Kind    string  `json:"kind"`
	Verdict Verdict `json:"verdict"`
	// Value is the measured value (canary side for compare; short-window burn
	// rate for burn-rate).
	Value Number `json:"value"`
	// Baseline is the baseline's median for compare and the long-window burn
	// rate for burn-rate.
	Baseline Number `json:"baseline"`
	// Count is the number of requests behind Value, when the check has a
	// count query (short window for burn-rate); nil when it has none or
	// the count could not be read.
	Count *Number `json:"count,omitempty"`
	// Limit is what Value was judged against (Max, Alpha, BurnThreshold).
	Limit float64 `json:"limit"`
	// PValue is set for compare.
	PValue Number `json:"p-value"`
	// Samples are the raw observations of a compare check, canary then baseline.
	CanarySamples   []float64 `json:"canary-samples,omitempty"`
	BaselineSamples []float64 `json:"baseline-samples,omitempty"`
	At              time.Time `json:"at,omitzero"`
	// Detail says why, in words, especially for Inconclusive.
	Detail string `json:"detail,omitempty"`
}

// MeasureResult is the outcome of a round: every measurement and their Worst.
type MeasureResult struct {
	Round        int           `json:"round"`
	Verdict      Verdict       `json:"verdict"`
	Measurements []Measurement `json:"measurements"`
	// Score is how a scored round's verdict came about; nil otherwise.
	Score *Score `json:"score,omitempty"`
	// Detail says why a bake decided on this round (which checks failed, or
	// never passed); empty for other rounds.
	Detail string `json:"detail,omitempty"`
}

// Activities measures SLOs through named providers.
type Activities struct {
	// Providers maps the names checks use to providers already built.
	Providers map[string]Provider
	// Factories builds the providers a check names with its options, when
	// Providers has none by that name: the worker's table.
	Factories Factories
	// Clock is Bake's time source; nil means real time.
	Clock Clock

	// built caches providers made from a check's Provider and Options: a
	// provider may keep state between rounds (the edge provider's scrape
	// history), so every round of a release must reach the same instance.
	mu    sync.Mutex
	built map[string]Provider
}

// provider returns the provider a check names: a configured one, else one
// built from its options and kept for later rounds.
func (a *Activities) provider(c Check) (Provider, error) {
	if p, ok := a.Providers[c.Provider]; ok {
		return p, nil
	}
	key := c.Provider
	for _, k := range slices.Sorted(maps.Keys(c.Options)) {
		key += "\x00" + k + "=" + c.Options[k]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.built[key]; ok {
		return p, nil
	}
	p, err := a.Factories.New(c.Provider, c.Options)
	if err != nil {
		return nil, invalid("metrics provider %q: %v", c.Provider, err)
	}
	if a.built == nil {
		a.built = map[string]Provider{}
	}
	a.built[key] = p
	return p, nil
}

// Measure runs every check of a round in order and returns each measurement.
// Inconclusive answers (no data, NaN, too few samples) become Inconclusive
// verdicts; other provider errors (network, bad query) fail the activity so
// Temporal retries it; invalid checks fail it without retry.
func (a *Activities) Measure(ctx context.Context, in MeasureInput) (MeasureResult, error) {
	res := MeasureResult{Round: in.Round}
	for i, c := range in.Checks {
		m, err := a.measure(ctx, c)
		if err != nil {
			return res, fmt.Errorf("check %d (%q): %w", i, c.Name, err)
		}
		res.Measurements = append(res.Measurements, m)
	}
	countVerdicts(ctx, res.Measurements)
	res.Verdict, res.Score = Judge(in.Checks, res.Measurements, in.Score)
	return res, nil
}

// countVerdicts counts each measurement's verdict by check, as the
// workflow sees it.
func countVerdicts(ctx context.Context, ms []Measurement) {
	h := telemetry.Activity(ctx)
	for _, m := range ms {
		h.WithTags(map[string]string{telemetry.LabelCheck: m.Check, telemetry.LabelVerdict: string(m.Verdict)}).
			Counter(telemetry.AnalysisVerdicts).Inc(1)
	}
}

func (a *Activities) measure(ctx context.Context, c Check) (Measurement, error) {
	nan := Number(math.NaN())
	m := Measurement{Check: c.Name, Kind: c.Kind, Value: nan, Baseline: nan, PValue: nan}
	p, err := a.provider(c)
	if err != nil {
		return m, err
	}
	if c.Ratio == nil && c.Query.Expr == "" {
		return m, invalid("check %q measures nothing: no query and no ratio (a metric template the runbook lacks?)", c.Name)
	}
	switch c.Kind {
	case KindErrorRatio, KindLatency, KindQuery:
		return a.threshold(ctx, p, c, m)
	case KindCompare:
		return a.compare(ctx, p, c, m)
	case KindBurnRate:
		return a.burnRate(ctx, p, c, m)
	default:
		return m, invalid("unknown check kind %q; known: error-ratio, latency, query, compare, burn-rate", c.Kind)
	}
}

func (a *Activities) threshold(ctx context.Context, p Provider, c Check, m Measurement) (Measurement, error) {
	m.Limit = c.Max
	s, n, err := checkValue(ctx, p, c, c.Query)
	m.Count = n
	if done, err := inconclusiveOr(&m, err); done {
		return m, err
	}
	m.Value, m.At = Number(s.Value), s.At
	m.Verdict = Threshold(s.Value, c.Max)
	m.Detail = fmt.Sprintf("%.4g <= %g", s.Value, c.Max)
	if m.Verdict == Fail {
		m.Detail = fmt.Sprintf("%.4g > %g", s.Value, c.Max)
	}
	return m, nil
}

func (a *Activities) compare(ctx context.Context, p Provider, c Check, m Measurement) (Measurement, error) {
	minSamples, alpha := c.MinSamples, c.Alpha
	if minSamples <= 0 {
		minSamples = DefaultMinSamples
	}
	if alpha <= 0 {
		alpha = DefaultAlpha
	}
	m.Limit = alpha
	canary, err := p.Query(ctx, c.Query)
	if done, err := inconclusiveOr(&m, err); done {
		return m, err
	}
	base, err := p.Query(ctx, c.Baseline)
	if done, err := inconclusiveOr(&m, err); done {
		return m, err
	}
	m.At, m.CanarySamples, m.BaselineSamples = canary.At, finite(canary.Values), finite(base.Values)
	m.Value, m.Baseline = Number(median(canary.Values)), Number(median(base.Values))
	cmp := MannWhitneyU(canary.Values, base.Values, minSamples, alpha)
	m.Verdict, m.PValue = cmp.Verdict, Number(cmp.PValue)
	m.Detail = fmt.Sprintf("Mann-Whitney U=%g p=%.4g (alpha %g), n canary=%d baseline=%d", cmp.U, cmp.PValue, alpha, cmp.NCanary, cmp.NBaseline)
	if d := float64(m.Value - m.Baseline); cmp.Verdict == Fail && d < c.MinDifference {
		m.Verdict = Pass
		m.Detail += fmt.Sprintf("; the medians differ by %.4g, less than min-difference %g", d, c.MinDifference)
	}
	if cmp.Verdict == Inconclusive {
		m.Detail = fmt.Sprintf("%s: canary %d, baseline %d, need %d each", cmp.Reason, cmp.NCanary, cmp.NBaseline, minSamples)
	}
	return m, nil
}

func (a *Activities) burnRate(ctx context.Context, p Provider, c Check, m Measurement) (Measurement, error) {
	if c.LongWindow <= 0 || c.SLOTarget <= 0 || c.SLOTarget >= 1 || c.BurnThreshold <= 0 {
		return m, invalid("burn-rate needs LongWindow > 0, 0 < SLOTarget < 1 and BurnThreshold > 0")
	}
	m.Limit = c.BurnThreshold
	short, n, err := checkValue(ctx, p, c, c.Query)
	m.Count = n
	if done, err := inconclusiveOr(&m, err); done {
		return m, err
	}
	lq := c.Query
	lq.Window = c.LongWindow
	// The long window looks back on purpose: the budget burnt before this
	// bake counts, so it is not cut at the bake's start.
	lq.Since = time.Time{}
	long, _, err := checkValue(ctx, p, c, lq)
	if done, err := inconclusiveOr(&m, err); done {
		return m, err
	}
	m.At = short.At
	m.Value, m.Baseline = Number(BurnRate(short.Value, c.SLOTarget)), Number(BurnRate(long.Value, c.SLOTarget))
	m.Verdict = BurnRateCheck(short.Value, long.Value, c.SLOTarget, c.BurnThreshold)
	m.Detail = fmt.Sprintf("burn rate %g over %s, %g over %s, threshold %g", m.Value, c.Query.Window, m.Baseline, c.LongWindow, c.BurnThreshold)
	return m, nil
}

// checkValue answers c's value over q's window: q itself, or the ratio of c's
// two queries, once the count query (if any) says enough requests were
// served for the answer to mean something. The count, when read, comes
// back even with an inconclusive answer: "3 requests" explains it.
func checkValue(ctx context.Context, p Provider, c Check, q Query) (Sample, *Number, error) {
	var count *Number
	if c.Count != "" {
		cq := q
		cq.Expr, cq.Step = c.Count, 0
		n, err := p.Query(ctx, cq)
		if err != nil {
			return Sample{}, nil, fmt.Errorf("count: %w", err)
		}
		v := Number(n.Value)
		count = &v
		if !(n.Value >= c.MinCount) {
			return Sample{}, count, Inconclusivef("%g requests in the window, fewer than the %g a verdict needs", n.Value, c.MinCount)
		}
	}
	var s Sample
	var err error
	if c.Ratio == nil {
		s, err = p.Query(ctx, q)
	} else {
		s, err = ratio(ctx, p, *c.Ratio, q)
	}
	return s, count, err
}

// ratio answers Bad/Total (or 1 - Good/Total) over q's window. No
// requests at all is inconclusive: 0/0 is not a healthy 0.
func ratio(ctx context.Context, p Provider, r Ratio, q Query) (Sample, error) {
	if q.At.IsZero() {
		q.At = time.Now()
	}
	tq := q
	tq.Expr = r.Total
	total, err := p.Query(ctx, tq)
	if err != nil {
		return Sample{}, fmt.Errorf("total: %w", err)
	}
	if !(total.Value > 0) {
		return Sample{}, Inconclusivef("no requests in the window (total %g)", total.Value)
	}
	nq := q
	nq.Expr = r.Bad
	if r.Bad == "" {
		nq.Expr = r.Good
	}
	part, err := p.Query(ctx, nq)
	switch {
	case err == nil:
	case r.Bad != "" && r.AbsentBadIsZero && errors.Is(err, ErrInconclusive):
		part = Sample{At: total.At}
	case r.Bad != "":
		return Sample{}, fmt.Errorf("bad: %w", err)
	default:
		return Sample{}, fmt.Errorf("good: %w", err)
	}
	v := part.Value / total.Value
	if r.Bad == "" {
		v = 1 - v
	}
	return Sample{Value: v, At: total.At}, nil
}

// inconclusiveOr records an inconclusive provider answer in m (done, nil error)
// or passes any other error on (done, err). A nil err is not done.
func inconclusiveOr(m *Measurement, err error) (bool, error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrInconclusive):
		m.Verdict, m.Detail = Inconclusive, err.Error()
		return true, nil
	default:
		return true, err
	}
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalidCheck, nil)
}

func median(xs []float64) float64 {
	f := finite(xs)
	if len(f) == 0 {
		return math.NaN()
	}
	sortFloats(f)
	if len(f)%2 == 1 {
		return f[len(f)/2]
	}
	return (f[len(f)/2-1] + f[len(f)/2]) / 2
}
