package runbooks

import (
	"fmt"
	"strings"
)

// Variables a runbook's strings may use as ${name}. The workflow replaces
// them with Expand; the validator refuses any other name, so a typo is
// caught before a release starts instead of reaching a URL verbatim.
const (
	VarVersion     = "version"     // the release version, e.g. 1.4.2
	VarService     = "service"     // the runbook's service
	VarEnvironment = "environment" // the environment the step runs in
)

// knownVariables lists the variables in the order messages name them.
var knownVariables = []string{VarVersion, VarService, VarEnvironment}

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
		if name := s[i+2 : i+2+j]; !contains(knownVariables, name) {
			msgs = append(msgs, fmt.Sprintf("unknown variable ${%s}; the known variables are ${version}, ${service} and ${environment}", name))
		}
		s = s[i+3+j:]
	}
}

// placeholders stand in for variables when checking that a URL is well
// formed before the real values are known.
var placeholders = map[string]string{VarVersion: "0.0.0", VarService: "service", VarEnvironment: "environment"}
