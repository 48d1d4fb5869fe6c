// Package secretref decides which of the worker's environment variables a
// runbook may read through an env:NAME reference. Every place that resolves
// env:NAME (http-check and hook headers, provider options, database URLs,
// infra variables) goes through Lookup, so the rule lives here only.
//
// A runbook is written by people who do not hold the worker's secrets, and
// whatever it reads can be sent to a URL it picks. So a name resolves only
// when the worker's operator listed it in RUNBOOK_ENV_ALLOW, and the worker's
// own credentials (Slack, AWS, Temporal, the audit store, any RUNBOOK_*
// setting) never resolve, whatever the list says.
package secretref

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// AllowEnv is the worker setting listing the names runbooks may read:
// comma-separated names and PREFIX_* prefixes. Unset or empty allows none.
const AllowEnv = "RUNBOOK_ENV_ALLOW"

// EdgeToken is the edge router's default token reference. The worker holds
// it to drive its own edge proxy, so the edge router's token option may
// read it without an allowlist entry; nowhere else may.
const EdgeToken = "RUNBOOK_EDGE_TOKEN"

// Prefix is how a reference to an environment variable starts.
const Prefix = "env:"

// never are the prefixes of the worker's own credentials and settings: the
// Slack bot token and signing secret, AWS credentials, the Temporal client's
// address, API key and TLS files, and every RUNBOOK_* setting (the audit DSN
// and key among them).
var never = []string{"SLACK_", "AWS_", "TEMPORAL_", "RUNBOOK_"}

// nameRe is a portable environment variable name.
var nameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ErrRefused marks a name the worker will not resolve for a runbook.
var ErrRefused = errors.New("environment variable not readable by runbooks")

// Never reports whether name is one of the worker's own settings, which no
// runbook may read whatever RUNBOOK_ENV_ALLOW says; product lists names the
// caller resolves on the product's own behalf (EdgeToken for the edge
// router's token option). The comparison ignores case, as Windows does.
func Never(name string, product ...string) bool {
	for _, p := range product {
		if name == p {
			return false
		}
	}
	up := strings.ToUpper(name)
	for _, p := range never {
		if strings.HasPrefix(up, p) {
			return true
		}
	}
	return false
}

// NeverReason explains why name is never readable, for an error message.
func NeverReason(name string) string {
	up := strings.ToUpper(name)
	for _, p := range never {
		if strings.HasPrefix(up, p) {
			return fmt.Sprintf("env:%s is never readable by a runbook: %s* variables are the worker's own credentials and settings, and %s cannot allow them; give the runbook its own variable instead", name, p, AllowEnv)
		}
	}
	return ""
}

// Allow is a parsed RUNBOOK_ENV_ALLOW.
type Allow struct {
	names    map[string]bool
	prefixes []string
}

// ParseAllow parses a RUNBOOK_ENV_ALLOW value. An entry that is not a name
// or PREFIX_*, a bare *, or an entry only the never-list covers is an error,
// so a mistyped setting fails the worker's start instead of a release.
func ParseAllow(v string) (Allow, error) {
	a := Allow{names: map[string]bool{}}
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		stem, prefix := strings.CutSuffix(e, "*")
		switch {
		case prefix && stem == "":
			return Allow{}, fmt.Errorf("%s: a bare * would hand every worker variable to runbooks; list names or prefixes such as CHECKOUT_*", AllowEnv)
		case !nameRe.MatchString(stem):
			return Allow{}, fmt.Errorf("%s: entry %q is not a variable name or a PREFIX_* prefix", AllowEnv, e)
		case Never(stem):
			// RUNBOOK_EDGE_TOKEN too: the edge router reads it without an
			// entry, and an entry would suggest it works elsewhere.
			return Allow{}, fmt.Errorf("%s: entry %q names the worker's own settings, which runbooks can never read; remove it", AllowEnv, e)
		case prefix:
			a.prefixes = append(a.prefixes, stem)
		default:
			a.names[stem] = true
		}
	}
	return a, nil
}

// Allows reports whether the list names name, as itself or by a prefix.
func (a Allow) Allows(name string) bool {
	if a.names[name] {
		return true
	}
	for _, p := range a.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Check returns nil when a runbook may read name on this worker, else an
// ErrRefused error saying which worker setting would allow it (or that none
// can). It reads RUNBOOK_ENV_ALLOW each time, so tests can set it.
func Check(name string, product ...string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w: %q is not an environment variable name; write env:NAME with letters, digits and underscores", ErrRefused, name)
	}
	for _, p := range product {
		if name == p {
			return nil
		}
	}
	if Never(name) {
		return fmt.Errorf("%w: %s", ErrRefused, NeverReason(name))
	}
	a, err := ParseAllow(os.Getenv(AllowEnv))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	if !a.Allows(name) {
		return fmt.Errorf("%w: env:%s is not allowed on this worker; add %s (or a prefix such as %s) to %s in the worker's environment and restart it",
			ErrRefused, name, name, prefixHint(name), AllowEnv)
	}
	return nil
}

// Lookup returns the value of the environment variable name if runbooks may
// read it (see Check), and whether it is set. Errors never hold a value.
func Lookup(name string, product ...string) (string, bool, error) {
	if err := Check(name, product...); err != nil {
		return "", false, err
	}
	v, ok := os.LookupEnv(name)
	return v, ok, nil
}

// prefixHint suggests a prefix entry for name: its first word and _*.
func prefixHint(name string) string {
	if i := strings.IndexByte(name, '_'); i > 0 {
		return name[:i+1] + "*"
	}
	return name + "_*"
}
