package workflows

import (
	"maps"
	"strconv"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/runbooks"
)

// defaultCompareStep is the resolution of a compare check's observations.
const defaultCompareStep = 5 * time.Second

// sloChecks turns the environment's SLOs into the checks of an analysis
// round, measured on the target slot (and, for compare, the live one). Each
// measurement covers the SLO's window, by default one analysis interval.
func (t *trafficKind) sloChecks(e *environment, interval time.Duration) []metrics.Check {
	return SLOChecks(&e.in.Env, e.slots.target, e.slots.live, e.vars(), interval)
}

// SLOChecks are the checks of one analysis round of env's SLOs on the
// target slot (live is a compare's baseline), with the step variables vars
// (SLOVars): what a traffic step measures, and what `runbook slo check`
// runs before a release relies on it. It is pure: workflows call it.
func SLOChecks(env *runbooks.Environment, target, live string, vars map[string]string, interval time.Duration) []metrics.Check {
	if env.Metrics == nil || len(env.SLOs) == 0 {
		return nil
	}
	templates := env.Metrics.Templates
	if templates == nil {
		// Releases started before templates travelled in the input
		// measure with the preset their runbook would have had.
		templates = runbooks.PresetTemplates(env)
	}
	slots := &slotChoice{target: target, live: live}
	out := make([]metrics.Check, 0, len(env.SLOs))
	for _, s := range env.SLOs {
		c := sloCheck(s, templates, slots, vars, s.Window.Or(interval))
		c.Provider, c.Options = env.Metrics.Provider, env.Metrics.Options
		c.Weight, c.Critical = s.Weight, s.Critical
		out = append(out, c)
	}
	return out
}

// ScorePolicy is how env's SLO verdicts combine: nil when each must pass.
func ScorePolicy(env *runbooks.Environment) *metrics.ScorePolicy {
	if env.Analysis == nil || env.Analysis.Score == nil {
		return nil
	}
	return &metrics.ScorePolicy{Pass: env.Analysis.Score.Pass, Marginal: env.Analysis.Score.Marginal}
}

// SLOVars are the variables an SLO's queries read when target is the slot
// measured and live the other: what a traffic step of a release of
// version would give them. Outputs of a provision step are not known
// outside a release, so templates should not read them.
func SLOVars(service, version, artifact string, env *runbooks.Environment, target, live string) map[string]string {
	v := map[string]string{
		runbooks.VarVersion: version, runbooks.VarService: service,
		runbooks.VarEnvironment: env.Name, runbooks.VarArtifact: artifact,
		runbooks.VarSlot: target, runbooks.VarLiveSlot: live,
	}
	if env.Traffic != nil {
		slot := env.Traffic.Slots[target]
		for _, k := range sortedKeys(slot) {
			v[runbooks.VarSlotPrefix+k] = slot[k]
		}
	}
	return v
}

// sloCheck builds the check of one SLO from the environment's metric
// templates. vars are the step variables, ${slot} being the target slot.
func sloCheck(s runbooks.SLO, templates map[string]runbooks.MetricTemplate, slots *slotChoice, vars map[string]string, window time.Duration) metrics.Check {
	c := metrics.Check{Name: s.Name}
	q := metrics.Query{Window: window, Backend: slots.target}
	named := func(def string) runbooks.MetricTemplate {
		if s.Template != "" {
			return templates[s.Template]
		}
		return templates[def]
	}
	switch {
	case s.ErrorRatio != nil:
		c.Kind, c.Max = metrics.KindErrorRatio, *s.ErrorRatio
		fromTemplate(&c, &q, named(runbooks.TemplateErrorRatio), vars)
	case s.Latency != nil:
		c.Kind, c.Max = metrics.KindLatency, time.Duration(s.Latency.Max).Seconds()
		lv := maps.Clone(vars)
		lv[runbooks.VarQuantile] = strconv.FormatFloat(s.Latency.Percentile/100, 'g', -1, 64)
		lv[runbooks.VarPercentile] = strconv.FormatFloat(s.Latency.Percentile, 'g', -1, 64)
		fromTemplate(&c, &q, named(runbooks.TemplateLatency), lv)
	case s.Query != "":
		c.Kind, c.Max = metrics.KindQuery, *s.Max
		q.Expr = runbooks.Expand(s.Query, vars)
	case s.Compare != nil:
		compareCheck(&c, &q, s, templates, slots, vars)
	case s.BurnRate != nil:
		c.Kind = metrics.KindBurnRate
		c.SLOTarget, c.BurnThreshold = s.BurnRate.Target, s.BurnRate.Threshold
		c.LongWindow = time.Duration(s.BurnRate.LongWindow)
		fromTemplate(&c, &q, named(runbooks.TemplateErrorRatio), vars)
	case s.Template != "" && s.Max != nil:
		c.Kind, c.Max = metrics.KindQuery, *s.Max
		fromTemplate(&c, &q, templates[s.Template], vars)
	}
	c.Query = q
	return c
}

// compareCheck fills a compare check: the query (or the template's value)
// once per side, ${slot} being that side's slot.
func compareCheck(c *metrics.Check, q *metrics.Query, s runbooks.SLO, templates map[string]runbooks.MetricTemplate, slots *slotChoice, vars map[string]string) {
	expr := s.Compare.Query
	if s.Template != "" {
		expr = templates[s.Template].Value
	}
	c.Kind, c.MinSamples, c.Alpha = metrics.KindCompare, s.Compare.MinSamples, s.Compare.Alpha
	c.MinDifference = s.Compare.MinDifference
	q.Step = s.Compare.Step.Or(defaultCompareStep)
	q.Expr = runbooks.Expand(expr, vars)
	c.Baseline = *q
	c.Baseline.Backend = slots.live
	baseVars := maps.Clone(vars)
	baseVars[runbooks.VarSlot] = slots.live
	if vars[runbooks.VarVariant] == flagVariantOn {
		// A flag step compares the flag's variants on the slot serving
		// users: the baseline is the subjects without the feature.
		baseVars[runbooks.VarVariant] = flagVariantOff
	}
	c.Baseline.Expr = runbooks.Expand(expr, baseVars)
}

// fromTemplate sets what c measures from template t: a ratio of two
// queries, or one query; and the count that makes too few requests
// inconclusive. ${window} stays for the provider, which knows the window
// it finally measures.
func fromTemplate(c *metrics.Check, q *metrics.Query, t runbooks.MetricTemplate, vars map[string]string) {
	x := func(s string) string { return runbooks.Expand(s, vars) }
	switch t.Shape() {
	case "ratio":
		c.Ratio = &metrics.Ratio{Bad: x(t.Bad), Good: x(t.Good), Total: x(t.Total), AbsentBadIsZero: t.AbsentBadIsZero}
	case "quantile":
		q.Expr = x(t.Quantile)
	case "value":
		q.Expr = x(t.Value)
	}
	if t.Count != "" {
		c.Count, c.MinCount = x(t.Count), float64(runbooks.DefaultMinCount)
		if t.MinCount > 0 {
			c.MinCount = float64(t.MinCount)
		}
	}
}
