package runbooks

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/providers"
)

// Checks of metric templates, and that every SLO finds the template it
// reads: an SLO without one would get no data during the canary and hold
// the release as inconclusive forever, so it is refused before it runs.

// templateNameRe is the form of a template name (it is part of field paths).
var templateNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// templates checks the templates written at path (a runbook's
// metrics.templates or a template file's templates).
func (v *validator) templates(path string, ts map[string]MetricTemplate) {
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		p := join(path, name)
		if !v.ok(p) {
			continue
		}
		if !templateNameRe.MatchString(name) {
			v.c.addf(v.keyAt(p), "template name %q: use lower case letters, digits and dashes, starting with a letter", name)
		}
		t := ts[name]
		v.template(p, name, &t)
	}
}

// template checks that one template has exactly one shape.
func (v *validator) template(path, name string, t *MetricTemplate) {
	label := called("template", name)
	ratio := t.Bad != "" || t.Good != "" || t.Total != ""
	shapes := 0
	for _, set := range []bool{ratio, t.Quantile != "", t.Value != ""} {
		if set {
			shapes++
		}
	}
	switch {
	case shapes == 0:
		v.errf(path, "%s measures nothing; give it bad (or good) with total for a ratio, quantile for a latency, or value", label)
	case shapes > 1:
		v.errf(path, "%s mixes shapes; a template is one of a ratio (bad or good, with total), a quantile or a value, so split it", label)
	case ratio:
		v.ratio(path, label, t)
	case t.Quantile != "" && !strings.Contains(t.Quantile, "${"+VarQuantile+"}") && !strings.Contains(t.Quantile, "${"+VarPercentile+"}"):
		v.errf(path+".quantile", "%s's quantile uses neither ${quantile} nor ${percentile}, so every latency SLO would measure the same percentile; put ${quantile} (e.g. 0.99) where the query takes it", label)
	}
	if t.AbsentBadIsZero && t.Bad == "" {
		v.c.addf(v.keyAt(path+".absent-bad-is-zero"), "%s: absent-bad-is-zero only applies to a bad query; add bad or remove it", label)
	}
	if v.has(path+".min-count") && t.Count == "" {
		v.c.addf(v.keyAt(path+".min-count"), "%s: min-count bounds the count query; add count: (the number of requests in ${window}) or remove min-count", label)
	} else if v.set(path+".min-count") && t.MinCount < 1 {
		v.errf(path+".min-count", "%s: min-count %d must be 1 or more", label, t.MinCount)
	}
}

// ratio checks a ratio template: bad or good, over total.
func (v *validator) ratio(path, label string, t *MetricTemplate) {
	switch {
	case t.Bad != "" && t.Good != "":
		v.errf(path, "%s has both bad and good; a ratio is bad/total or good/total, so keep one", label)
	case t.Total == "":
		v.errf(path, "%s has no total; a ratio needs the query of all requests as total:", label)
	case t.Bad == "" && t.Good == "":
		v.errf(path, "%s has total but neither bad nor good; add the failed requests as bad: (or the successful ones as good:)", label)
	}
}

// metricsPreset checks metrics.preset names a preset for this provider.
func (v *validator) metricsPreset(path string, m *Metrics) {
	p := path + ".preset"
	if !v.set(p) || m.Preset == PresetNone {
		return
	}
	pr, ok := LookupPreset(m.Preset)
	switch {
	case !ok:
		v.errf(p, "unknown metrics preset %q; known: %s, or none", m.Preset, strings.Join(PresetNames(), ", "))
	case pr.Provider != m.Provider:
		v.errf(p, "preset %s is written for the %s metrics provider, not %s; use a preset for %s or write templates", m.Preset, pr.Provider, m.Provider, m.Provider)
	}
}

// sloTemplate is what an SLO reads: the template's name, the shapes it
// accepts and the key that asks for it.
type sloTemplate struct {
	key    string
	name   string
	shapes []string
}

// sloTemplateOf returns what s reads, false when it reads a query of its own.
func sloTemplateOf(s *SLO) (sloTemplate, bool) {
	pick := func(def string) string {
		if s.Template != "" {
			return s.Template
		}
		return def
	}
	switch {
	case s.ErrorRatio != nil:
		return sloTemplate{"error-ratio", pick(TemplateErrorRatio), []string{"ratio", "value"}}, true
	case s.BurnRate != nil:
		return sloTemplate{"burn-rate", pick(TemplateErrorRatio), []string{"ratio", "value"}}, true
	case s.Latency != nil:
		return sloTemplate{"latency", pick(TemplateLatency), []string{"quantile", "value"}}, true
	case s.Compare != nil && s.Template != "":
		return sloTemplate{"template", s.Template, []string{"value"}}, true
	case s.Query == "" && s.Template != "":
		return sloTemplate{"template", s.Template, []string{"ratio", "quantile", "value"}}, true
	}
	return sloTemplate{}, false
}

// sloTemplate checks the template SLO s at path reads exists in e, has a
// shape the objective can use and only reads slot values both slots have.
func (v *validator) sloTemplate(path string, e *Environment, s *SLO) {
	st, ok := sloTemplateOf(s)
	// Without a known provider or a router the section's own problem is
	// the one to fix first; a missing template would only add noise.
	if !ok || e.Metrics == nil || e.Traffic == nil ||
		!slices.Contains(providers.Metrics(), e.Metrics.Provider) || !slices.Contains(providers.Traffic(), e.Traffic.Provider) || !v.ok(path+"."+st.key) {
		return
	}
	kp := path + "." + st.key
	t, found := e.Metrics.Templates[st.name]
	if !found {
		v.c.addf(v.keyAt(kp), "%s reads the metric template %q, which %s does not have: %s", st.key, st.name, called("environment", e.Name), v.templateHint(e, st))
		return
	}
	if !slices.Contains(st.shapes, t.Shape()) {
		v.c.addf(v.keyAt(kp), "%s reads template %q (%s), a %s; %s needs a %s template", st.key, st.name, fromText(t), t.Shape(), st.key, strings.Join(st.shapes, " or "))
		return
	}
	if s.Compare != nil && !strings.Contains(t.Value, "${"+VarSlot+"}") {
		v.c.addf(v.keyAt(kp), "compare measures template %q (%s) once per side with ${slot} set to that side's slot, and its value does not use ${slot}; both sides would measure the same series", st.name, fromText(t))
	}
	v.templateSlots(kp, e, st.name, t)
	v.templateVariant(kp, e, st.name, t)
	if pr, ok := LookupPreset(strings.TrimPrefix(t.From, "preset ")); ok && t.From == "preset "+pr.Name {
		for _, o := range pr.NeedsOptions {
			if e.Traffic.Options[o] == "" {
				v.c.addf(v.keyAt(kp), "template %q (from preset %s) names the router's %s in its queries; add traffic.options.%s", st.name, pr.Name, o, o)
			}
		}
	}
}

// templateHint says what to write for a missing template.
func (v *validator) templateHint(e *Environment, st sloTemplate) string {
	router := "router " + e.Traffic.Provider
	what := "bad: and total: queries (or value:)"
	if st.key == "latency" {
		what = "a quantile: query using ${quantile} (or value:)"
	}
	preset := EffectivePreset(e)
	switch {
	case e.Metrics.Preset == PresetNone:
		preset = "metrics.preset is none"
	case preset == "":
		preset = fmt.Sprintf("no preset covers %s with metrics %s (presets: %s)", router, e.Metrics.Provider, strings.Join(PresetNames(), ", "))
	default:
		preset = "preset " + preset + " has no template of that name"
	}
	return fmt.Sprintf("%s; add metrics.templates.%s with %s, in the runbook or an included file", preset, st.name, what)
}

// templateSlots checks each ${slot.KEY} a used template reads is a value of
// both slots, or the query would reach the provider with the text as is.
func (v *validator) templateSlots(path string, e *Environment, name string, t MetricTemplate) {
	if e.Traffic == nil {
		return
	}
	for _, text := range []string{t.Bad, t.Good, t.Total, t.Quantile, t.Value, t.Count} {
		for _, key := range prefixedRefs(text, VarSlotPrefix) {
			for _, slot := range slices.Sorted(maps.Keys(e.Traffic.Slots)) {
				if _, ok := e.Traffic.Slots[slot][key]; !ok {
					v.c.addf(v.keyAt(path), "template %q (%s) reads ${slot.%s}, which slot %s does not have; add %s: to traffic.slots.%s", name, fromText(t), key, slot, key, slot)
					return
				}
			}
		}
	}
}

// templateVariant refuses a template that reads ${variant} in an
// environment with a traffic step: only a flag step sets the variant, so a
// canary's analysis would send the query to the provider with the literal
// text and judge nothing.
func (v *validator) templateVariant(path string, e *Environment, name string, t MetricTemplate) {
	ref := "${" + VarVariant + "}"
	for _, text := range []string{t.Bad, t.Good, t.Total, t.Quantile, t.Value, t.Count} {
		if !strings.Contains(text, ref) {
			continue
		}
		for i := range e.Steps {
			if k := trafficKind(&e.Steps[i]); k != "" {
				v.c.addf(v.keyAt(path), "template %q (%s) reads ${variant}, which only a flag step sets, and %s analyses the same SLOs; give the flag step's SLOs a template of their own or move the flag step to another environment",
					name, fromText(t), called(k+" step", e.Steps[i].Name))
				return
			}
		}
		return
	}
}

// fromText names where a template came from.
func fromText(t MetricTemplate) string {
	if t.From == "" {
		return "from the runbook"
	}
	return "from " + t.From
}
