package workflows

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/runbooks"
)

// defaultCompareStep is the resolution of a compare check's observations.
const defaultCompareStep = 5 * time.Second

// PromQL over the edge proxy's own metrics, used by error-ratio, latency and
// burn-rate SLOs when Prometheus scrapes the edge. %[1]q is the backend.
const (
	promErrorRatio = `sum(rate(edge_requests_total{backend=%[1]q,code_class="5xx"}[$window])) / sum(rate(edge_requests_total{backend=%[1]q}[$window]))` + promEnough
	promLatency    = `histogram_quantile(%[2]s, sum by (le) (rate(edge_request_duration_seconds_bucket{backend=%[1]q}[$window])))` + promEnough
	// promEnough drops the result (no data: inconclusive) when the window
	// holds fewer than 10 requests, as the edge provider does: a ratio or a
	// quantile over a handful of requests is noise.
	promEnough = ` and on() (sum(increase(edge_requests_total{backend=%[1]q}[$window])) >= 10)`
)

// sloChecks turns the environment's SLOs into the checks of an analysis
// round, measured on the target slot (and, for compare, the live one). Each
// measurement covers the SLO's window, by default one analysis interval.
func (t *trafficKind) sloChecks(e *environment, interval time.Duration) []metrics.Check {
	env := e.in.Env
	if env.Metrics == nil || len(env.SLOs) == 0 {
		return nil
	}
	out := make([]metrics.Check, 0, len(env.SLOs))
	for _, s := range env.SLOs {
		c := sloCheck(s, env.Metrics.Provider, e.slots, e.vars(), s.Window.Or(interval))
		c.Provider, c.Options = env.Metrics.Provider, env.Metrics.Options
		out = append(out, c)
	}
	return out
}

// sloCheck builds the check of one SLO for provider. vars are the step
// variables, ${slot} being the target slot.
func sloCheck(s runbooks.SLO, provider string, slots *slotChoice, vars map[string]string, window time.Duration) metrics.Check {
	c := metrics.Check{Name: s.Name}
	q := metrics.Query{Window: window, Backend: slots.target}
	switch {
	case s.ErrorRatio != nil:
		c.Kind, c.Max = metrics.KindErrorRatio, *s.ErrorRatio
		q.Expr = errorRatioExpr(provider, slots.target)
	case s.Latency != nil:
		c.Kind, c.Max = metrics.KindLatency, time.Duration(s.Latency.Max).Seconds()
		q.Expr = latencyExpr(provider, slots.target, s.Latency.Percentile/100)
	case s.Query != "":
		c.Kind, c.Max = metrics.KindQuery, *s.Max
		q.Expr = runbooks.Expand(s.Query, vars)
	case s.Compare != nil:
		c.Kind, c.MinSamples, c.Alpha = metrics.KindCompare, s.Compare.MinSamples, s.Compare.Alpha
		q.Step = s.Compare.Step.Or(defaultCompareStep)
		q.Expr = runbooks.Expand(s.Compare.Query, vars)
		c.Baseline = q
		c.Baseline.Backend = slots.live
		baseVars := maps.Clone(vars)
		baseVars[runbooks.VarSlot] = slots.live
		c.Baseline.Expr = runbooks.Expand(s.Compare.Query, baseVars)
	case s.BurnRate != nil:
		c.Kind = metrics.KindBurnRate
		c.SLOTarget, c.BurnThreshold = s.BurnRate.Target, s.BurnRate.Threshold
		c.LongWindow = time.Duration(s.BurnRate.LongWindow)
		q.Expr = errorRatioExpr(provider, slots.target)
	}
	c.Query = q
	return c
}

// errorRatioExpr is the 5xx ratio of backend in provider's language.
func errorRatioExpr(provider, backend string) string {
	if provider == "prometheus" {
		return fmt.Sprintf(promErrorRatio, backend)
	}
	return "error-ratio"
}

// latencyExpr is the q quantile (0..1) of backend's latency in seconds.
func latencyExpr(provider, backend string, q float64) string {
	qs := strconv.FormatFloat(q, 'g', -1, 64)
	if provider == "prometheus" {
		return fmt.Sprintf(promLatency, backend, qs)
	}
	return "latency:" + qs
}
