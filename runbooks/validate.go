package runbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The validator checks what the types cannot express, with the positions
// the decoder recorded. It never stops at the first problem.

// nameRe is the form of service, environment, step and gate names: they
// become parts of workflow IDs, search attributes and URLs.
var nameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

const nameRule = "use lowercase letters, digits and dashes, starting with a letter, at most 63 characters (^[a-z][a-z0-9-]{0,62}$)"

// stepKinds are the step kinds, in the order messages list them.
var stepKinds = []string{KindApproval, KindHTTPCheck, KindJourney, KindProvision, KindMigrate, KindCanary, KindLinear, KindBlueGreen, KindAllAtOnce, KindFlag}

type validator struct {
	c    *collector
	locs map[string]*loc
	// slotUses are the texts using slot variables, as the decoder found
	// them; they are checked against their environment's slots.
	slotUses []slotUse
}

func newValidator(c *collector, locs map[string]*loc, slotUses []slotUse) *validator {
	return &validator{c: c, locs: locs, slotUses: slotUses}
}

// has reports whether the field at path was written.
func (v *validator) has(path string) bool { return v.locs[path] != nil }

// ok reports whether the field at path was written with the right type;
// the decoder has already reported it otherwise.
func (v *validator) ok(path string) bool {
	l := v.locs[path]
	return l != nil && !l.bad
}

// valAt is where the value at path was written, or, for a missing field,
// where its parent was.
func (v *validator) valAt(path string) pos {
	for {
		if l := v.locs[path]; l != nil {
			return l.val
		}
		if path == "" {
			return pos{}
		}
		path = parent(path)
	}
}

// keyAt is where the key of path was written (or its parent, if missing).
func (v *validator) keyAt(path string) pos {
	if l := v.locs[path]; l != nil {
		return l.key
	}
	return v.valAt(path)
}

// parent strips the last ".name" or "[i]" from a path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (v *validator) errf(path, format string, args ...any) {
	v.c.addf(v.valAt(path), format, args...)
}

// required checks a text field that must be present and non-blank; hint
// says how to add it. It returns whether the value can be checked further.
func (v *validator) required(path, what, value, hint string) bool {
	switch {
	case !v.has(path):
		v.errf(path, "%s is missing; %s", what, hint)
	case !v.ok(path):
	case strings.TrimSpace(value) == "":
		v.errf(path, "%s is empty; %s", what, hint)
	default:
		return true
	}
	return false
}

// name checks a required name against nameRe.
func (v *validator) name(path, what, value string) {
	hint := "add it (lowercase letters, digits and dashes, starting with a letter)"
	if v.required(path, what, value, hint) && !nameRe.MatchString(value) {
		v.errf(path, "%s %q is not a valid name; %s", what, value, nameRule)
	}
}

// runbook checks the whole document.
func (v *validator) runbook(rb *Runbook) {
	if v.locs[""].bad {
		return
	}
	if v.required("api-version", "api-version", rb.APIVersion, "add api-version: "+APIVersion+" as the first line") &&
		rb.APIVersion != APIVersion {
		v.errf("api-version", "api-version %q is not supported; this version of runbook reads api-version: %s", rb.APIVersion, APIVersion)
	}
	v.name("service", "service", rb.Service)
	v.required("owner", "owner", rb.Owner, "add the owning team, e.g. owner: team-payments")
	v.artifact(rb.Artifact)
	v.policy(&rb.Policy, rb.Environments)
	v.environments(rb.Environments)
	v.promotion(rb.Environments)
	v.waves(rb)
	v.slotVariables(rb.Environments)
}

// environments checks the list and that names are unique.
func (v *validator) environments(envs []Environment) {
	const hint = "add at least one environment with its steps"
	switch {
	case !v.has("environments"):
		v.errf("environments", "environments is missing; %s", hint)
		return
	case v.ok("environments") && len(envs) == 0:
		v.errf("environments", "environments is empty; %s", hint)
		return
	}
	first := map[string]pos{}
	for i := range envs {
		path := fmt.Sprintf("environments[%d]", i)
		if !v.ok(path) {
			continue
		}
		v.environment(path, &envs[i])
		if name := envs[i].Name; name != "" {
			if p, dup := first[name]; dup {
				v.errf(path+".name", "environment %q is defined twice; the first one is at line %d", name, p.line)
			} else {
				first[name] = v.valAt(path + ".name")
			}
		}
	}
}

// environment checks one environment and its steps.
func (v *validator) environment(path string, e *Environment) {
	v.name(path+".name", "environment name", e.Name)
	if e.ReleaseWindow != nil && v.ok(path+".release-window") {
		v.releaseWindow(path+".release-window", e.ReleaseWindow)
	}
	if e.Infra != nil && v.ok(path+".infra") {
		v.infra(path+".infra", e.Infra)
	}
	if e.Database != nil && v.ok(path+".database") {
		v.database(path+".database", e.Database)
	}
	if e.Slack != nil && v.ok(path+".slack") && strings.TrimSpace(e.Slack.Channel) == "" {
		v.c.addf(v.keyAt(path+".slack"), "slack needs the channel its gates are posted to, e.g. slack: {channel: C0123456789}")
	}
	v.trafficSections(path, e)
	// Gates and steps share one namespace: the release status, approvals
	// and the audit log all address them by name.
	names := map[string]pos{}
	for i := range e.Approvals {
		p := fmt.Sprintf("%s.approvals[%d]", path, i)
		if v.ok(p) {
			v.gate(p, &e.Approvals[i])
			v.uniqueName(names, p+".name", e.Approvals[i].Name, "approval gate")
		}
	}
	v.steps(path, e, names)
	traffic, flags := v.trafficSteps(path, e), v.flagSteps(path, e)
	v.slos(path, e, traffic || flags)
	v.analysis(path, e)
	v.alerting(path, e)
	v.watch(path, e)
}

// ReservedStepNames are the built-in steps (and the break-glass gate) the
// workflow adds to environments; the status lists them beside the
// runbook's own steps, so no step may share their names.
var ReservedStepNames = []string{"release-window", "verify-artifact", "select-slot", "assess-risk", "break-glass"}

// uniqueName reports a name already used by a gate or step of the same
// environment.
func (v *validator) uniqueName(names map[string]pos, path, name, what string) {
	if name == "" {
		return
	}
	if slices.Contains(ReservedStepNames, name) {
		v.errf(path, "%s name %q is reserved for the built-in step every environment runs; pick another name", what, name)
		return
	}
	if p, dup := names[name]; dup {
		v.errf(path, "%s name %q is already used at line %d; gates and steps of an environment need distinct names", what, name, p.line)
		return
	}
	names[name] = v.valAt(path)
}

// steps checks the step list of the environment at path.
func (v *validator) steps(path string, e *Environment, names map[string]pos) {
	const hint = "add at least one step, e.g. an http-check"
	p := path + ".steps"
	switch {
	case !v.has(p):
		v.errf(p, "%s has no steps; %s", called("environment", e.Name), hint)
		return
	case v.ok(p) && len(e.Steps) == 0:
		v.errf(p, "steps is empty; %s", hint)
		return
	}
	provisioned := false
	for i := range e.Steps {
		sp := fmt.Sprintf("%s[%d]", p, i)
		if v.ok(sp) {
			v.step(sp, &e.Steps[i])
			v.uniqueName(names, sp+".name", e.Steps[i].Name, "step")
			v.provisionOrder(sp, e, &e.Steps[i], &provisioned)
			v.migrateStep(sp, e, i)
		}
	}
}

// step checks one step: its name, that it has exactly one kind, and the
// fields of the kinds that need no context (traffic steps are checked with
// their environment's traffic section, by trafficSteps).
func (v *validator) step(path string, s *Step) {
	v.name(path+".name", "step name", s.Name)
	label := called("step", s.Name)
	kinds := s.Kinds()
	switch {
	case len(kinds) == 0:
		v.errf(path, "%s has no kind; add one of: %s", label, strings.Join(stepKinds, ", "))
	case len(kinds) > 1:
		v.errf(path, "%s has several kinds (%s); a step has exactly one, so split it into separate steps", label, strings.Join(kinds, ", "))
	}
	if p := path + "." + KindApproval; s.Approval != nil && v.ok(p) {
		v.approvers(p, s.Approval.Approvers, s.Approval.MinApprovals)
	}
	if p := path + "." + KindHTTPCheck; s.HTTPCheck != nil && v.ok(p) {
		v.httpCheck(p, s.HTTPCheck)
	}
	if p := path + "." + KindJourney; s.Journey != nil && v.ok(p) {
		v.journey(p, s.Journey)
	}
	v.rollbackHook(path, s)
}

// called names a thing in messages, even when its name is missing.
func called(what, name string) string {
	if name == "" {
		return "this " + what
	}
	return fmt.Sprintf("%s %q", what, name)
}
