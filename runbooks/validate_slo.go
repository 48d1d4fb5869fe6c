package runbooks

import (
	"fmt"
	"slices"
	"strings"
)

// Checks of the slos an environment's traffic step analyses. A wrong
// threshold found mid-shift would either roll back a good version or let
// a bad one through, so every number is checked against its meaning here.

// sloObjectives are the keys of which an SLO sets exactly one.
var sloObjectives = []string{"error-ratio", "latency", "query", "compare", "burn-rate"}

// slos checks an environment's slos: where they are read from, when they
// are analysed, and each one.
func (v *validator) slos(path string, e *Environment, hasTrafficStep bool) {
	p := path + ".slos"
	if len(e.SLOs) == 0 || !v.ok(p) {
		return
	}
	env := called("environment", e.Name)
	if e.Metrics == nil {
		v.c.addf(v.keyAt(p), "slos need a metrics section in %s to read from; add metrics: {provider: prometheus, options: {url: http://127.0.0.1:9090}}", env)
	}
	if !hasTrafficStep {
		v.c.addf(v.keyAt(p), "slos are analysed during a traffic or flag step; add one or remove slos (%s has no canary, linear, blue-green, all-at-once or flag step)", env)
	}
	names := map[string]pos{}
	for i := range e.SLOs {
		sp := fmt.Sprintf("%s[%d]", p, i)
		if !v.ok(sp) {
			continue
		}
		s := &e.SLOs[i]
		v.slo(sp, s)
		v.sloTemplate(sp, e, s)
		v.sloScore(sp, e, s)
		if e.Metrics != nil && e.Metrics.Provider == "edge" {
			v.edgeSLO(sp, s)
		}
		if e.Metrics != nil && e.Metrics.Provider == "web" {
			v.webSLO(sp, s, e.Metrics.Options["url"])
		}
		if s.Name == "" {
			continue
		}
		if first, dup := names[s.Name]; dup {
			v.errf(sp+".name", "SLO name %q is already used at line %d; the slos of an environment need distinct names (the status reports them by name)", s.Name, first.line)
		} else {
			names[s.Name] = v.valAt(sp + ".name")
		}
	}
}

// sloScore checks an SLO's share of an analysis score: weight and critical
// only mean something with analysis.score.
func (v *validator) sloScore(path string, e *Environment, s *SLO) {
	scored := e.Analysis != nil && e.Analysis.Score != nil
	for _, k := range []string{"weight", "critical"} {
		if p := path + "." + k; v.has(p) && !scored {
			v.c.addf(v.keyAt(p), "%s only counts in a weighted analysis; add analysis: {score: {pass: 90, marginal: 75}} to %s, or remove it", k, called("environment", e.Name))
		}
	}
	if p := path + ".weight"; v.set(p) && s.Weight <= 0 {
		v.errf(p, "weight %g must be more than 0; leave it out for the default of 1", s.Weight)
	}
}

// analysis checks how the SLO verdicts combine.
func (v *validator) analysis(path string, e *Environment) {
	p := path + ".analysis"
	if e.Analysis == nil || !v.ok(p) {
		return
	}
	if len(e.SLOs) == 0 {
		v.c.addf(v.keyAt(p), "analysis combines the slos' verdicts, and %s has no slos; add slos or remove analysis", called("environment", e.Name))
	}
	sc := e.Analysis.Score
	sp := p + ".score"
	if sc == nil || !v.ok(sp) {
		return
	}
	switch {
	case !v.has(sp + ".pass"):
		v.errf(sp+".pass", "score.pass is missing; add the lowest passing score, e.g. pass: 90")
	case sc.Pass <= 0 || sc.Pass > 100:
		v.errf(sp+".pass", "score.pass %g must be more than 0 and at most 100, e.g. 90", sc.Pass)
	}
	switch {
	case !v.has(sp + ".marginal"):
		v.errf(sp+".marginal", "score.marginal is missing; add the lowest score that is not a failure, e.g. marginal: 75 (use the pass value for no marginal band)")
	case sc.Marginal < 0 || sc.Marginal > sc.Pass:
		v.errf(sp+".marginal", "score.marginal %g must be from 0 up to pass (%g): below it a round fails, from it up to pass it holds for a person", sc.Marginal, sc.Pass)
	}
}

// slo checks one SLO: its name, that it has exactly one objective, and
// the objective's numbers.
func (v *validator) slo(path string, s *SLO) {
	v.name(path+".name", "SLO name", s.Name)
	var set []string
	for _, o := range sloObjectives {
		if v.has(path + "." + o) {
			set = append(set, o)
		}
	}
	// template alone is an objective (a template's value under max); next
	// to another objective it names the template that one reads.
	if v.has(path+".template") && (len(set) == 0 || slices.Contains(set, "query")) {
		set = append(set, "template")
	}
	label := called("SLO", s.Name)
	switch {
	case len(set) == 0:
		v.errf(path, "%s has no objective; add one of error-ratio, latency, query (with max), template (with max), compare or burn-rate", label)
	case len(set) > 1:
		v.errf(path, "%s has several objectives (%s); an SLO has exactly one, so split it into separate slos", label, strings.Join(set, ", "))
	}
	v.errorRatio(path+".error-ratio", s.ErrorRatio)
	if p := path + ".latency"; s.Latency != nil && v.ok(p) {
		v.latency(p, s.Latency)
	}
	v.query(path, s)
	if p := path + ".compare"; s.Compare != nil && v.ok(p) {
		v.compare(p, s.Compare)
	}
	if p := path + ".burn-rate"; s.BurnRate != nil && v.ok(p) {
		v.burnRate(p, s.BurnRate)
	}
	if p := path + ".window"; v.set(p) && s.Window.D() < minInterval {
		v.errf(p, "window %s is shorter than 1s; use 1s or more, or leave it out to measure over the analysis interval", s.Window)
	} else if v.set(p) && s.Window.D() > maxBake {
		// A bake lasts at least the longest SLO window, so the bake's cap
		// is the window's too.
		v.errf(p, "window %s is longer than the 24h cap; a bake lasts at least its longest SLO window, so use 24h or less", s.Window)
	}
}

// errorRatio checks the share of 5xx responses an SLO allows.
func (v *validator) errorRatio(path string, r *float64) {
	switch {
	case !v.ok(path):
	case r == nil:
		v.errf(path, "error-ratio has no value; write the highest passing share of 5xx responses, e.g. 0.01 for 1%%")
	case *r < 0 || *r > 1:
		v.errf(path, "error-ratio %g is not a ratio; use a number from 0 to 1, e.g. 0.01 for 1%% of responses", *r)
	}
}

// latency checks a latency-percentile objective.
func (v *validator) latency(path string, l *Latency) {
	pp := path + ".percentile"
	switch {
	case !v.has(pp):
		v.errf(pp, "latency percentile is missing; add e.g. percentile: 99 for p99")
	case v.ok(pp) && (l.Percentile <= 0 || l.Percentile >= 100):
		v.errf(pp, "percentile %g must be more than 0 and less than 100, e.g. 99 for p99", l.Percentile)
	}
	mp := path + ".max"
	switch {
	case !v.has(mp):
		v.errf(mp, "latency max is missing; add the highest passing latency, e.g. max: 300ms")
	case v.ok(mp) && l.Max <= 0:
		v.errf(mp, "latency max must be longer than 0, e.g. 300ms")
	}
}

// query checks a query or template objective: it and its bound come
// together.
func (v *validator) query(path string, s *SLO) {
	qp, mp, tp := path+".query", path+".max", path+".template"
	hasQuery := v.has(qp)
	alone := v.has(tp) && s.ErrorRatio == nil && s.Latency == nil && s.BurnRate == nil && s.Compare == nil && !hasQuery
	if hasQuery && v.required(qp, "query", s.Query, "write the provider query, e.g. PromQL for prometheus") && s.Max == nil {
		v.errf(qp, "query needs max, the highest passing value; add max: next to it, e.g. max: 0.5")
	}
	if alone && v.required(tp, "template", s.Template, "name a template of metrics.templates") && s.Max == nil {
		v.errf(tp, "template needs max, the highest passing value; add max: next to it, e.g. max: 0.5")
	}
	if v.has(mp) && !hasQuery && !alone {
		v.c.addf(v.keyAt(mp), "max only bounds a query or a template's value; add the query it bounds, or remove max")
	}
}

// compare checks a canary-versus-baseline comparison. Its query is run
// once per side with ${slot} set to that side's slot, so it must use
// ${slot}, or both sides would measure the same series; ${slot.KEY} has the
// target's value only, which would do the same.
func (v *validator) compare(path string, c *Compare) {
	qp := path + ".query"
	if v.has(parent(path) + ".template") {
		if v.has(qp) {
			v.c.addf(v.keyAt(qp), "compare has both a query and a template; keep one (the template's value is measured on each side)")
		}
	} else if v.required(qp, "compare.query", c.Query, "write the query of one side, using ${slot} for the side's slot, or name a template with template:") {
		switch refs := prefixedRefs(c.Query, VarSlotPrefix); {
		case len(refs) > 0:
			v.errf(qp, "compare.query uses ${%s%s}, which is the target slot's value on both sides; select each side with ${slot} (its slot's name) instead", VarSlotPrefix, refs[0])
		case !strings.Contains(c.Query, "${"+VarSlot+"}"):
			v.errf(qp, "compare.query does not use ${slot}; both sides would measure the same series, so select the side's slot with it")
		}
	}
	if p := path + ".min-samples"; v.set(p) && c.MinSamples < 3 {
		v.errf(p, "min-samples %d is too few to compare; use 3 or more, or leave it out for the default of 10", c.MinSamples)
	}
	if p := path + ".min-difference"; v.set(p) && c.MinDifference < 0 {
		v.errf(p, "min-difference %g must be 0 or more: the canary's median must be worse by more than it to fail", c.MinDifference)
	}
	if p := path + ".alpha"; v.set(p) && (c.Alpha <= 0 || c.Alpha >= 1) {
		v.errf(p, "alpha %g must be more than 0 and less than 1, e.g. 0.05 (the default)", c.Alpha)
	}
}

// burnRate checks an error-budget burn-rate objective.
func (v *validator) burnRate(path string, b *BurnRate) {
	tp := path + ".target"
	switch {
	case !v.has(tp):
		v.errf(tp, "burn-rate target is missing; add the SLO target, e.g. target: 0.999")
	case v.ok(tp) && (b.Target <= 0 || b.Target >= 1):
		v.errf(tp, "target %g must be more than 0 and less than 1, e.g. 0.999 for 99.9%%", b.Target)
	}
	lp := path + ".long-window"
	switch {
	case !v.has(lp):
		v.errf(lp, "burn-rate long-window is missing; add the long window, e.g. long-window: 1h")
	case v.ok(lp) && b.LongWindow <= 0:
		v.errf(lp, "long-window must be longer than 0, e.g. 1h")
	}
	hp := path + ".threshold"
	switch {
	case !v.has(hp):
		v.errf(hp, "burn-rate threshold is missing; add the burn rate that fails, e.g. threshold: 14.4")
	case v.ok(hp) && b.Threshold <= 0:
		v.errf(hp, "threshold %g must be more than 0, e.g. 14.4", b.Threshold)
	}
}

// edgeSLO refuses the objectives the edge provider cannot answer: it keeps
// counters, not raw observations (compare) or hours of history (burn-rate),
// so they would hold every release as inconclusive.
func (v *validator) edgeSLO(path string, s *SLO) {
	if s.Compare != nil && v.has(path+".compare") {
		v.c.addf(v.keyAt(path+".compare"), "compare needs raw observations of both slots, which the edge provider does not keep; read the edge's metrics through prometheus (metrics: {provider: prometheus, ...}) or use error-ratio and latency")
	}
	if s.BurnRate != nil && v.has(path+".burn-rate") {
		v.c.addf(v.keyAt(path+".burn-rate"), "burn-rate needs the long window's history, which the edge provider does not keep; read the edge's metrics through prometheus (metrics: {provider: prometheus, ...})")
	}
}
