package runbooks

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// varNameRe is the form of an OpenTofu/Terraform variable name.
var varNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// infra checks an environment's infra section.
func (v *validator) infra(path string, in *Infra) {
	v.required(path+".module", "infra.module", in.Module, "name the OpenTofu/Terraform module directory, e.g. module: ../../infra/local")
	switch in.OnRollback {
	case "", "restore", "destroy":
	default:
		v.errf(path+".on-rollback", "on-rollback %q is not one of restore (re-apply the previous version's variables) or destroy (remove what this release created)", in.OnRollback)
	}
	v.infraVars(path+".vars", in.Vars)
	v.approvers(path, in.Approvers, 0)
}

// infraVars checks variable names and values, in name order so problems
// come out the same every time.
func (v *validator) infraVars(path string, vars map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		p := join(path, k)
		if !varNameRe.MatchString(k) {
			v.c.addf(v.keyAt(p), "variable name %q is not valid; use letters, digits, _ and -, starting with a letter", k)
		}
		val := vars[k]
		if name, ok := strings.CutPrefix(val, "env:"); ok && !envNameRe.MatchString(name) {
			v.errf(p, "variable %q: %q is not an environment variable name; write env:NAME", k, name)
		}
		v.neverEnv(p, val)
		v.literalSecret(p, "variable", k, val)
		if len(outputRefs(val)) > 0 {
			v.errf(p, "variable %q uses ${outputs...}, but outputs exist only after the provision step ran", k)
		}
	}
}

// provisionOrder checks a step's place relative to the provision step: a
// provision step needs the environment's infra section and may appear once,
// and ${outputs.NAME} may only be used after it.
func (v *validator) provisionOrder(path string, e *Environment, s *Step, provisioned *bool) {
	if s.Provision != nil {
		switch {
		case e.Infra == nil:
			v.c.addf(v.keyAt(path+"."+KindProvision), "%s needs an infra section in %s (infra: {module: ...})", called("provision step", s.Name), called("environment", e.Name))
		case *provisioned:
			v.c.addf(v.keyAt(path+"."+KindProvision), "%s: an environment has one provision step; put all variables into it", called("step", s.Name))
		}
		if v.ok(path + "." + KindProvision) {
			v.infraVars(path+"."+KindProvision+".vars", s.Provision.Vars)
		}
		*provisioned = true
		return
	}
	if !*provisioned && usesOutputs(s) {
		v.errf(path, "%s uses ${outputs...}, but no provision step runs before it in this environment", called("step", s.Name))
	}
}

// usesOutputs reports whether any string the workflow expands in s refers
// to a provision output.
func usesOutputs(s *Step) bool {
	var texts []string
	if h := s.HTTPCheck; h != nil {
		texts = append(texts, h.URL, h.Body, h.ExpectBody)
	}
	if j := s.Journey; j != nil {
		for _, r := range j.Requests {
			for _, t := range r.JourneyTexts() {
				texts = append(texts, t[1])
			}
		}
	}
	if h := s.OnRollback; h != nil {
		texts = append(texts, h.URL, h.Body)
	}
	for _, t := range texts {
		if len(outputRefs(t)) > 0 {
			return true
		}
	}
	return false
}
