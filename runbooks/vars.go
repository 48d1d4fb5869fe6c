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
)

// knownVariables lists the variables in the order messages name them.
var knownVariables = []string{VarVersion, VarService, VarEnvironment, VarArtifact}

// outputNameRe is the form of an output name in ${outputs.NAME}.
var outputNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// isKnownVariable reports whether ${name} is a variable runbooks may use.
func isKnownVariable(name string) bool {
	if out, ok := strings.CutPrefix(name, VarOutputsPrefix); ok {
		return outputNameRe.MatchString(out)
	}
	return contains(knownVariables, name)
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

// variableProblems explains each unknown or unclosed ${...} in s.
func variableProblems(s string) []string {
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
		if name := s[i+2 : i+2+j]; !isKnownVariable(name) {
			msgs = append(msgs, fmt.Sprintf("unknown variable ${%s}; the known variables are ${version}, ${service}, ${environment}, ${artifact} and ${outputs.NAME} (an output of the provision step)", name))
		}
		s = s[i+3+j:]
	}
}

// placeholders stand in for variables when checking that a URL is well
// formed before the real values are known.
var placeholders = map[string]string{VarVersion: "0.0.0", VarService: "service", VarEnvironment: "environment", VarArtifact: "artifact"}

// withPlaceholders expands s for a well-formedness check. An output at the
// very start usually is a base URL (${outputs.url}/healthz), elsewhere a
// part of one.
func withPlaceholders(s string) string {
	vars := placeholders
	if strings.Contains(s, "${"+VarOutputsPrefix) {
		vars = maps.Clone(placeholders)
		for _, name := range outputRefs(s) {
			vars[VarOutputsPrefix+name] = "output"
		}
		// An unclosed "${outputs." has no name; the decoder reports it.
		if refs := outputRefs(s); len(refs) > 0 && strings.HasPrefix(s, "${"+VarOutputsPrefix) {
			vars[VarOutputsPrefix+refs[0]] = "http://output.invalid"
		}
	}
	return Expand(s, vars)
}

// outputRefs lists the NAMEs of the ${outputs.NAME} references in s, in
// order of appearance.
func outputRefs(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "${"+VarOutputsPrefix)
		if i < 0 {
			return names
		}
		s = s[i+2+len(VarOutputsPrefix):]
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return names
		}
		names = append(names, s[:j])
		s = s[j+1:]
	}
}
