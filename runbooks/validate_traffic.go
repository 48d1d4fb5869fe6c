package runbooks

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/internal/providers"
	"github.com/runbookhq/runbook/internal/secretref"
)

// Checks of the traffic shift: the traffic and metrics sections, the
// steps that move traffic, the slos analysed meanwhile, and the slot
// variables. A traffic step starts with the environment's live version
// serving; anything these checks let through would be found by the
// workflow only while real users are on the new version.

// rollbackModes are the ways traffic goes back on a breach. The provider
// names come from internal/providers, the list the worker's factory tables
// are tested against.
var rollbackModes = []string{"immediate", "gradual"}

// slotKeyRe is the form of a slot key: the one ${slot.KEY} accepts, so every
// key can be read.
var slotKeyRe = outputNameRe

// minInterval is the shortest analysis interval, measurement window or
// bake period: metrics providers do not resolve finer than a second.
const minInterval = time.Second

// trafficSections checks the environment's traffic and metrics sections.
func (v *validator) trafficSections(path string, e *Environment) {
	if p := path + ".traffic"; e.Traffic != nil && v.ok(p) {
		t := e.Traffic
		v.provider(p, "traffic", t.Provider, providers.Traffic())
		v.options(p+".options", "traffic", t.Options, edgeTokenFor(t.Provider)...)
		v.slots(p+".slots", t.Slots)
		v.oneOf(p+".rollback", "traffic.rollback", t.Rollback, rollbackModes,
			"immediate (the default: all traffic back at once) or gradual (in steps, for a cold live side)")
	}
	if p := path + ".metrics"; e.Metrics != nil && v.ok(p) {
		v.provider(p, "metrics", e.Metrics.Provider, providers.Metrics())
		v.options(p+".options", "metrics", e.Metrics.Options)
		v.metricsPreset(p, e.Metrics)
		v.templates(p+".templates", e.Metrics.Templates)
		if e.Metrics.Provider == "web" {
			v.webOptions(p+".options", e.Metrics.Options)
			v.webTemplates(p+".templates", e.Metrics.Templates, e.Metrics.Options["url"])
		}
	}
}

// provider checks the required provider of the section at path.
func (v *validator) provider(path, section, value string, known []string) {
	p := path + ".provider"
	if v.required(p, section+".provider", value, "add one of "+orList(known)) {
		v.oneOf(p, section+" provider", value, known, orList(known))
	}
}

// oneOf checks an optional enum value, suggesting the closest on a typo;
// use says what the allowed values are.
func (v *validator) oneOf(path, what, value string, allowed []string, use string) {
	if value == "" || contains(allowed, value) {
		return
	}
	if s := suggest(value, allowed); s != "" {
		v.errf(path, "%s %q is not supported; did you mean %q? (use %s)", what, value, s, use)
		return
	}
	v.errf(path, "%s %q is not supported; use %s", what, value, use)
}

// options checks provider option names, and of the values what keeps
// secrets in the worker (optionValues); the rest is the provider's to check.
func (v *validator) options(path, section string, opts map[string]string, product ...string) {
	keys := slices.Sorted(maps.Keys(opts))
	for _, k := range keys {
		if strings.TrimSpace(k) == "" {
			v.c.addf(v.keyAt(join(path, k)), "option name is empty; write name: value")
		}
	}
	v.optionValues(path, section+" option", opts, keys, product...)
}

// edgeTokenFor is the env name the traffic provider reads for the product:
// the edge router's default token, RUNBOOK_EDGE_TOKEN.
func edgeTokenFor(provider string) []string {
	if provider == "edge" {
		return []string{secretref.EdgeToken}
	}
	return nil
}

// slots checks the two slots a release alternates between. Both need the
// same keys: which slot is the target is only known when the release
// starts, and ${slot.KEY} must resolve either way.
func (v *validator) slots(path string, slots map[string]map[string]string) {
	if !v.has(path) {
		v.errf(path, "traffic.slots is missing; name the two backends the versions alternate between, e.g. slots: {blue: {}, green: {}}")
		return
	}
	if !v.ok(path) {
		return
	}
	names := slices.Sorted(maps.Keys(slots))
	if len(names) != 2 {
		v.errf(path, "traffic.slots names %s; a release alternates between exactly two (the live one and the target), e.g. blue and green",
			plural(len(names), "slot", "slots"))
	}
	for _, name := range names {
		p := join(path, name)
		if !nameRe.MatchString(name) {
			v.c.addf(v.keyAt(p), "slot name %q is not valid; %s", name, nameRule)
		}
		keys := slices.Sorted(maps.Keys(slots[name]))
		for _, k := range keys {
			if !slotKeyRe.MatchString(k) {
				v.c.addf(v.keyAt(join(p, k)), "slot key %q is not valid; use letters, digits, _ and -, starting with a letter or _ (steps read it as ${slot.KEY})", k)
			}
		}
		v.optionValues(p, "slot "+name+" key", slots[name], keys)
	}
	v.sameSlotKeys(path, slots, names)
}

// sameSlotKeys reports each key one slot has and another lacks, at the
// slot lacking it.
func (v *validator) sameSlotKeys(path string, slots map[string]map[string]string, names []string) {
	for _, name := range names {
		if !v.ok(join(path, name)) {
			continue
		}
		for _, k := range slotKeys(slots) {
			// An invalid key is reported once, where it is written.
			if _, ok := slots[name][k]; ok || !slotKeyRe.MatchString(k) {
				continue
			}
			other := slotWith(slots, names, k)
			v.c.addf(v.keyAt(join(path, name)), "slot %q has no key %q, which slot %q has (line %d); give both slots the same keys, so ${slot.%s} has a value whichever slot is the target",
				name, k, other, v.keyAt(join(join(path, other), k)).line, k)
		}
	}
}

// slotKeys returns the keys of all slots, sorted.
func slotKeys(slots map[string]map[string]string) []string {
	keys := map[string]bool{}
	for _, s := range slots {
		for k := range s {
			keys[k] = true
		}
	}
	return slices.Sorted(maps.Keys(keys))
}

// slotWith returns the first slot in names that has key.
func slotWith(slots map[string]map[string]string, names []string, key string) string {
	for _, n := range names {
		if _, ok := slots[n][key]; ok {
			return n
		}
	}
	return ""
}

// trafficSteps checks the steps that move traffic: each needs the
// environment's router, there is at most one (two would fight over the
// weights), and each kind's own fields. It reports whether there is one.
func (v *validator) trafficSteps(path string, e *Environment) bool {
	var first *Step
	var firstAt pos
	for i := range e.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", path, i)
		s := &e.Steps[i]
		k := trafficKind(s)
		if k == "" || !v.ok(sp) {
			continue
		}
		kp := sp + "." + k
		if e.Traffic == nil {
			v.c.addf(v.keyAt(kp), "%s moves traffic, so it needs a router; add a traffic section to %s (traffic: {provider: edge, slots: {blue: {}, green: {}}})",
				called(k+" step", s.Name), called("environment", e.Name))
		}
		if first != nil {
			v.c.addf(v.keyAt(kp), "%s: an environment has one traffic step, and %s (%s) at line %d already moves the traffic; remove one of them or move it to another environment",
				called("step", s.Name), called("step", first.Name), trafficKind(first), firstAt.line)
		} else {
			first, firstAt = s, v.keyAt(kp)
		}
		if v.ok(kp) {
			v.trafficStep(kp, k, s)
		}
	}
	return first != nil
}

// trafficKind returns the first traffic kind set on s, or "".
func trafficKind(s *Step) string {
	for _, k := range s.Kinds() {
		if contains(trafficKinds, k) {
			return k
		}
	}
	return ""
}

// trafficStep checks the fields of a traffic step of kind k at path.
// Negative durations (bake, rollback-window) never get here: the decoder
// refuses them.
func (v *validator) trafficStep(path, k string, s *Step) {
	switch k {
	case KindCanary:
		v.canary(path, s.Canary)
	case KindLinear:
		v.linear(path, s.Linear)
	case KindBlueGreen:
		v.bakeAtMost(path+".rollback-window", "rollback-window", s.BlueGreen.RollbackWindow)
		v.analysisInterval(path, s.BlueGreen.AnalysisInterval)
	case KindAllAtOnce:
		v.bakeAtMost(path+".bake", "bake", s.AllAtOnce.Bake)
		v.analysisInterval(path, s.AllAtOnce.AnalysisInterval)
	}
}

// canary checks the weights: at least one, each a percentage, rising.
func (v *validator) canary(path string, c *CanaryStep) {
	p := path + ".steps"
	const hint = "list the new version's weights, e.g. steps: [{weight: 10, bake: 5m}, {weight: 100}]"
	switch {
	case !v.has(p):
		v.errf(p, "canary steps is missing; %s", hint)
	case v.ok(p) && len(c.Steps) == 0:
		v.errf(p, "canary steps is empty; %s", hint)
	}
	prev, prevLine := 0, 0
	for i, w := range c.Steps {
		v.bakeAtMost(fmt.Sprintf("%s[%d].bake", p, i), "bake", w.Bake)
		wp := fmt.Sprintf("%s[%d].weight", p, i)
		if !v.ok(parent(wp)) || !v.percentage(wp, "canary weight", w.Weight, "add weight: with the new version's share of traffic (1 to 100)") {
			continue
		}
		if w.Weight <= prev {
			v.errf(wp, "weight %d does not rise above the weight before it (%d, line %d); canary weights go up step by step", w.Weight, prev, prevLine)
		}
		prev, prevLine = w.Weight, v.valAt(wp).line
	}
	v.analysisInterval(path, c.AnalysisInterval)
}

// linear checks the increment and how long each weight bakes.
func (v *validator) linear(path string, l *LinearStep) {
	v.percentage(path+".increment", "linear increment", l.Increment, "add the percentage points added each time, e.g. increment: 20")
	ep := path + ".every"
	switch {
	case !v.has(ep):
		v.errf(ep, "linear every is missing; add how long each weight bakes, e.g. every: 2m")
	case v.ok(ep) && l.Every.D() < minInterval:
		v.errf(ep, "every %s is shorter than 1s; each weight must bake long enough to be analysed, e.g. every: 2m", l.Every)
	default:
		v.bakeAtMost(ep, "every", l.Every)
	}
	v.analysisInterval(path, l.AnalysisInterval)
}

// percentage checks a required share of traffic from 1 to 100 and reports
// whether it is one.
func (v *validator) percentage(path, what string, n int, hint string) bool {
	switch {
	case !v.has(path):
		v.errf(path, "%s is missing; %s", what, hint)
	case !v.ok(path):
	case n < 1 || n > 100:
		v.errf(path, "%s %d is not a share of traffic; use a whole number from 1 to 100", what, n)
	default:
		return true
	}
	return false
}

// analysisInterval checks the optional analysis-interval of the traffic
// step at path: from minInterval to maxAnalysisInterval.
func (v *validator) analysisInterval(path string, d Duration) {
	p := path + ".analysis-interval"
	switch {
	case !v.set(p):
	case d.D() < minInterval:
		v.errf(p, "analysis-interval %s is shorter than 1s; metrics are not finer than that, so use 1s or more, or leave it out for the default of 10s", d)
	case d.D() > maxAnalysisInterval:
		v.errf(p, "analysis-interval %s is longer than the 1h cap; status shows a round once per interval, so use 1h or less, or leave it out for the default of 10s", d)
	}
}

// slotVariables checks every use of ${slot}, ${live-slot} and ${slot.KEY}:
// only an environment with a traffic section has slots, and KEY must be one
// of their keys.
func (v *validator) slotVariables(envs []Environment) {
	for _, u := range v.slotUses {
		i, ok := envIndex(u.path, len(envs))
		if !ok {
			v.errf(u.path, "${%s} is only known in the steps and sections of an environment with a traffic section; remove it here", u.names[0])
			continue
		}
		if ep := fmt.Sprintf("environments[%d]", i); v.ok(ep) {
			v.slotUse(ep, &envs[i], u)
		}
	}
}

// slotUse checks one text using slot variables in the environment at path.
func (v *validator) slotUse(path string, e *Environment, u slotUse) {
	env := called("environment", e.Name)
	switch {
	case e.Traffic == nil:
		v.errf(u.path, "${%s} needs a traffic section in %s: its slots say which one the new version goes to; add traffic: {provider: ..., slots: {...}} or remove the variable", u.names[0], env)
		return
	case strings.HasPrefix(u.path, path+".traffic.slots."):
		v.errf(u.path, "a slot value cannot use ${%s}: variables are replaced once, so it would stay as written; write the value itself", u.names[0])
		return
	case !v.ok(path+".traffic") || !v.ok(path+".traffic.slots"):
		return // the slots are reported already
	}
	keys := slotKeys(e.Traffic.Slots)
	for _, name := range u.names {
		key, ok := strings.CutPrefix(name, VarSlotPrefix)
		if !ok || contains(keys, key) {
			continue
		}
		if s := suggest(key, keys); s != "" {
			v.errf(u.path, "${%s}: the slots of %s have no key %q; did you mean ${%s%s}?", name, env, key, VarSlotPrefix, s)
		} else {
			v.errf(u.path, "${%s}: the slots of %s have no key %q; add %s: to both slots%s", name, env, key, key, keyList(keys))
		}
	}
}

// keyList names the slot keys there are, for a message.
func keyList(keys []string) string {
	if len(keys) == 0 {
		return " (they have no keys yet)"
	}
	return " or use one of: " + strings.Join(keys, ", ")
}

// envIndex returns the environment a field path is in, if any.
func envIndex(path string, n int) (int, bool) {
	rest, ok := strings.CutPrefix(path, "environments[")
	if !ok {
		return 0, false
	}
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(rest[:j])
	return i, err == nil && i >= 0 && i < n
}
