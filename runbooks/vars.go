package runbooks

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
)

// Variables a runbook's strings may use as ${name}. The workflow replaces
// them with Expand; the validator refuses any other name, so a typo is
// caught before a release starts instead of reaching a URL verbatim.
const (
	VarVersion     = "version"     // the release version, e.g. 1.4.2
	VarService     = "service"     // the runbook's service
	VarEnvironment = "environment" // the environment the step runs in
	VarArtifact    = "artifact"    // the verified artifact's resolved reference
	// VarOutputsPrefix starts ${outputs.NAME}: an output of the
	// environment's provision step, usable by the steps after it.
	VarOutputsPrefix = "outputs."
	// VarSlot is the target slot's name: the slot of the environment's
	// traffic section the new version goes to. Only environments with a
	// traffic section know it.
	VarSlot = "slot"
	// VarLiveSlot is the slot that served before the release (the one
	// traffic moves away from, and back to on a rollback).
	VarLiveSlot = "live-slot"
	// VarSlotPrefix starts ${slot.KEY}: the value of KEY in the target
	// slot (traffic.slots.<target>.KEY).
	VarSlotPrefix = "slot."
)

// knownVariables lists the variables in the order messages name them.
var knownVariables = []string{VarVersion, VarService, VarEnvironment, VarArtifact, VarSlot, VarLiveSlot}

// outputNameRe is the form of an output name in ${outputs.NAME} and of a
// slot key in ${slot.KEY}.
var outputNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// isKnownVariable reports whether ${name} is a variable runbooks may use
// somewhere. Whether a slot variable may be used where it is written
// depends on the environment; the validator checks that (slotUse).
func isKnownVariable(name string) bool {
	for _, prefix := range []string{VarOutputsPrefix, VarSlotPrefix} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return outputNameRe.MatchString(rest)
		}
	}
	return contains(knownVariables, name)
}

// isSlotVariable reports whether ${name} depends on the traffic section.
func isSlotVariable(name string) bool {
	return name == VarSlot || name == VarLiveSlot || strings.HasPrefix(name, VarSlotPrefix)
}

// Expand replaces each ${name} in s with vars[name]. References to names
// missing from vars, and an unclosed "${", are left as written. It is a
// pure function (workflow code calls it) and scans s left to right, so the
// result never depends on map iteration order.
func Expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			break
		}
		name := s[i+2 : i+2+j]
		b.WriteString(s[:i])
		if v, ok := vars[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+3+j])
		}
		s = s[i+3+j:]
	}
	b.WriteString(s)
	return b.String()
}

// variableProblems explains each unknown or unclosed ${...} in s, the text
// at path: metric templates may also use the template variables.
func variableProblems(path, s string) []string {
	inTemplate := isTemplatePath(path)
	var msgs []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return msgs
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			return append(msgs, `"${" is not closed; write variables like ${version}`)
		}
		name := s[i+2 : i+2+j]
		switch {
		case strings.HasPrefix(name, VarJourneyPrefix):
			msgs = append(msgs, journeyVariableProblem(path, name)...)
		case isKnownVariable(name), inTemplate && contains(templateVariables, name):
		case inTemplate:
			msgs = append(msgs, fmt.Sprintf("unknown variable ${%s}; %s, and in metric templates ${window}, ${quantile}, ${percentile} and ${variant}", name, knownVariablesHint))
		default:
			msgs = append(msgs, fmt.Sprintf("unknown variable ${%s}; %s", name, knownVariablesHint))
		}
		s = s[i+3+j:]
	}
}

// isTemplatePath reports whether the text at path is part of a metric
// template, in a runbook or in an included template file.
func isTemplatePath(path string) bool {
	return strings.Contains(path, ".metrics.templates.") || strings.HasPrefix(path, "templates.")
}

// knownVariablesHint ends the message about an unknown variable.
const knownVariablesHint = "the known variables are ${version}, ${service}, ${environment}, ${artifact}, " +
	"${outputs.NAME} (an output of the provision step), and with a traffic section ${slot}, ${live-slot} " +
	"and ${slot.KEY} (a value of the target slot)"

// placeholders stand in for variables when checking that a URL is well
// formed before the real values are known.
var placeholders = map[string]string{VarVersion: "0.0.0", VarService: "service", VarEnvironment: "environment",
	VarArtifact: "artifact", VarSlot: "slot", VarLiveSlot: "live-slot"}

// valuePrefixes start the variables whose values come from the runbook's
// own modules and sections (an output, a slot value) or from an earlier
// request's answer (a journey value) rather than the release.
var valuePrefixes = []string{VarOutputsPrefix, VarSlotPrefix, VarJourneyPrefix}

// withPlaceholders expands s for a well-formedness check. An output or a
// slot value at the very start usually is a base URL (${outputs.url}/healthz),
// elsewhere a part of one: a host, a port or a path segment, which "1"
// stands for in each.
func withPlaceholders(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	vars := maps.Clone(placeholders)
	for _, prefix := range valuePrefixes {
		refs := prefixedRefs(s, prefix)
		for _, name := range refs {
			vars[prefix+name] = "1"
		}
		if len(refs) > 0 && strings.HasPrefix(s, "${"+prefix) {
			vars[prefix+refs[0]] = "http://value.invalid"
		}
	}
	return Expand(s, vars)
}

// outputRefs lists the NAMEs of the ${outputs.NAME} references in s, in
// order of appearance.
func outputRefs(s string) []string { return prefixedRefs(s, VarOutputsPrefix) }

// prefixedRefs lists the NAMEs of the ${<prefix>NAME} references in s, in
// order of appearance. An unclosed reference has no name and is skipped;
// the decoder reports it.
func prefixedRefs(s, prefix string) []string {
	var names []string
	for {
		i := strings.Index(s, "${"+prefix)
		if i < 0 {
			return names
		}
		s = s[i+2+len(prefix):]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return names
		}
		names = append(names, s[:j])
		s = s[j+1:]
	}
}

// variableRefs lists the names of the closed ${name} references in s, in
// order of appearance.
func variableRefs(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return names
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			return names
		}
		names = append(names, s[i+2:i+2+j])
		s = s[i+3+j:]
	}
}

// isJourneyRequestPath reports whether the text at path belongs to a
// request of a journey step, the only place ${journey.NAME} means something.
func isJourneyRequestPath(path string) bool {
	return strings.Contains(path, "."+KindJourney+".requests[")
}

// journeyVariableProblem explains a ${journey.NAME} the decoder can judge
// alone: a malformed name, or one outside a journey's requests. Whether an
// earlier request extracts NAME is the validator's (journeyRefs).
func journeyVariableProblem(path, name string) []string {
	rest := strings.TrimPrefix(name, VarJourneyPrefix)
	switch {
	case !outputNameRe.MatchString(rest):
		return []string{fmt.Sprintf("${%s}: %q is not a journey value name; use letters, digits, _ and -, as named under extract:", name, rest)}
	case !isJourneyRequestPath(path) || strings.Contains(path, ".extract."):
		return []string{fmt.Sprintf("${%s} is only known in a journey's requests after the one that extracts it; remove it here", name)}
	}
	return nil
}
