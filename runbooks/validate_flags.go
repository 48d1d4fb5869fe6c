package runbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/providers"
)

// flagKeyRe is a flag key every provider accepts.
var flagKeyRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// flagSteps checks the environment's flags section and its flag steps,
// and reports whether it has one (its SLOs are then analysed).
func (v *validator) flagSteps(path string, e *Environment) bool {
	if e.Flags != nil && v.ok(path+".flags") {
		v.flagsSection(path+".flags", e.Flags)
	}
	found := false
	for i := range e.Steps {
		s := &e.Steps[i]
		p := fmt.Sprintf("%s.steps[%d].%s", path, i, KindFlag)
		if s.Flag == nil || !v.ok(p) {
			continue
		}
		found = true
		if e.Flags == nil {
			v.errf(p, "flag step %q needs the environment's flags section: flags: {provider: file, options: {path: /var/lib/flags/flags.json}}", s.Name)
		}
		v.flagStep(p, s.Flag)
		if s.Flag.Experiment != nil && v.ok(p+".experiment") {
			v.experiment(p+".experiment", e, s.Flag)
		}
	}
	return found
}

// flagsSection checks the provider name and that secrets are references.
func (v *validator) flagsSection(path string, f *Flags) {
	known := providers.Flags()
	if !slices.Contains(known, f.Provider) {
		v.errf(path+".provider", "flags provider %q is not known; use one of: %s", f.Provider, strings.Join(known, ", "))
	}
	for i, name := range f.KillOnBreach {
		if !flagKeyRe.MatchString(name) {
			v.errf(fmt.Sprintf("%s.kill-on-breach[%d]", path, i), "flag key %q is not valid; use letters, digits and . _ - (at most 128)", name)
		}
	}
	if (f.Provider == "file" || f.Provider == "flagd") && strings.TrimSpace(f.Options["path"]) == "" {
		v.c.addf(v.keyAt(path), "the %s flag provider needs options.path: the flagd flag definitions file it keeps", f.Provider)
	}
}

// flagStep checks the flags and the stages.
func (v *validator) flagStep(path string, f *FlagStep) {
	if v.ok(path+".flags") && len(f.Flags) == 0 {
		v.errf(path+".flags", "a flag step needs the flags it moves: flags: [new-checkout]")
	}
	seen := map[string]bool{}
	for i, name := range f.Flags {
		p := fmt.Sprintf("%s.flags[%d]", path, i)
		if !flagKeyRe.MatchString(name) {
			v.errf(p, "flag key %q is not valid; use letters, digits and . _ - (at most 128)", name)
		}
		if seen[name] {
			v.errf(p, "flag %s is listed twice", name)
		}
		seen[name] = true
	}
	if v.ok(path+".stages") && len(f.Stages) == 0 {
		v.errf(path+".stages", "a flag step needs stages, e.g. [{percentage: 10, bake: 5m}, {percentage: 100}]")
	}
	for i := range f.Stages {
		v.flagStage(fmt.Sprintf("%s.stages[%d]", path, i), &f.Stages[i])
	}
}

// flagStage checks that a stage says exactly one rollout.
func (v *validator) flagStage(path string, s *FlagStage) {
	if !v.ok(path) {
		return
	}
	n := 0
	if s.Percentage != nil {
		n++
		if *s.Percentage < 0 || *s.Percentage > 100 {
			v.errf(path+".percentage", "percentage %d is not between 0 and 100", *s.Percentage)
		}
	}
	if len(s.Segments) > 0 {
		n++
	}
	if s.Off {
		n++
	}
	if n != 1 {
		v.errf(path, "a stage sets exactly one of percentage, segments or off: true (it has %d)", n)
	}
	for i, seg := range s.Segments {
		if strings.TrimSpace(seg) == "" {
			v.errf(fmt.Sprintf("%s.segments[%d]", path, i), "a segment name is empty")
		}
	}
}
