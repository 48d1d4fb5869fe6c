package terraform

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/secretref"
)

const (
	envPrefix = secretref.Prefix
	redacted  = "[redacted]"
)

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// values are a workspace's variables resolved for one command.
type values struct {
	vars    map[string]string // name -> value, secrets included: only for the var file
	secrets []string          // values read from env:NAME, longest first
}

// resolve reads env:NAME values from the worker's environment and adds the
// release version. Every error is ErrInvalid naming the variable, never a value.
func resolve(name string, vars map[string]string, version string) (values, error) {
	v := values{vars: make(map[string]string, len(vars)+1)}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if !varNameRE.MatchString(k) {
			return values{}, invalid(fmt.Sprintf("%s: variable name %q is not a valid identifier", name, k))
		}
		val := vars[k]
		if env, ok := strings.CutPrefix(val, envPrefix); ok {
			s, found, err := secretref.Lookup(env)
			if err != nil {
				return values{}, invalid(fmt.Sprintf("%s: variable %q: %v", name, k, err))
			}
			if !found {
				return values{}, invalid(fmt.Sprintf("%s: variable %q reads env:%s, which is not set in this worker's environment; set it on every worker of the task queue", name, k, env))
			}
			val = s
			if s != "" {
				v.secrets = append(v.secrets, s)
			}
		}
		v.vars[k] = val
	}
	if err := v.setVersion(name, vars, version); err != nil {
		return values{}, err
	}
	slices.SortFunc(v.secrets, func(a, b string) int { return len(b) - len(a) })
	return v, nil
}

// setVersion passes the release version as VersionVar; a Vars entry of the
// same name must agree, so the runbook cannot say two things.
func (v *values) setVersion(name string, vars map[string]string, version string) error {
	if version == "" {
		return nil
	}
	if given, ok := vars[VersionVar]; ok && given != version {
		return invalid(fmt.Sprintf("%s: variable %s is set in vars and differs from the release version %q; leave it out of vars", name, VersionVar, version))
	}
	v.vars[VersionVar] = version
	return nil
}

// secretsOf resolves the env: references of vars as far as they are set, for
// redaction only: a command that does not pass variables must still keep a
// secret out of what it returns.
func secretsOf(vars map[string]string) []string {
	var s []string
	for _, val := range vars {
		if env, ok := strings.CutPrefix(val, envPrefix); ok {
			if x := os.Getenv(env); x != "" {
				s = append(s, x)
			}
		}
	}
	slices.SortFunc(s, func(a, b string) int { return len(b) - len(a) })
	return s
}

// writeVarFile writes the variables to a new 0600 JSON var file in dir and
// returns its path; the caller removes it when the command is done.
func (v values) writeVarFile(dir string) (string, error) {
	b, err := json.Marshal(v.vars)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, varFileGlob) // CreateTemp makes it 0600
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// redact replaces every secret in s, raw or JSON-escaped, with [redacted].
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redacted)
		if esc := jsonEscaped(sec); esc != sec {
			s = strings.ReplaceAll(s, esc, redacted)
		}
	}
	return s
}

// containsSecret tells whether s holds a secret, raw or JSON-escaped.
func containsSecret(s string, secrets []string) bool {
	for _, sec := range secrets {
		if strings.Contains(s, sec) || strings.Contains(s, jsonEscaped(sec)) {
			return true
		}
	}
	return false
}

// jsonEscaped is sec as it appears inside a JSON string.
func jsonEscaped(sec string) string {
	b, _ := json.Marshal(sec)
	return string(b[1 : len(b)-1])
}
