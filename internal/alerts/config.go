// Package alerts takes Alertmanager's webhook (POST /hooks/alertmanager)
// to the release that caused the alert: each firing alert is mapped by its
// labels to a service and an environment, and the release running there, or
// the last one that finished there within the environment's watch-after,
// is rolled back, paused or only noted, as the environment's on-alert says
// for the alert's severity. It also holds the circuit breaker, which
// declares an automatic freeze when too many releases fail within a window.
package alerts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/sshsig"
)

// maxFileSize bounds the alerts file, as the trigger file is bounded.
const maxFileSize = 1 << 20

// Config is the alerts file (RUNBOOK_ALERTS_FILE).
type Config struct {
	// Auth is how Alertmanager's http_config authenticates: a bearer token
	// (authorization: {credentials}) or basic auth.
	Auth Auth `yaml:"auth"`
	// Labels names the labels an alert is mapped by.
	Labels Labels `yaml:"labels,omitempty"`
	// Match are static label matchers: an alert is acted on only when
	// every one of these labels has the given value.
	Match map[string]string `yaml:"match,omitempty"`
	// Breaker, when set, declares automatic freezes (see Breaker).
	Breaker *Breaker `yaml:"breaker,omitempty"`
	// SigningKey is an SSH private key file the worker signs the alerts'
	// controls and rollbacks with (as runbook:alerts) and the breaker's
	// freezes (as runbook:breaker). A worker with trust roots refuses
	// unsigned ones, so its allowed signers must list these names with
	// this key; without a key only unsigned environments are acted on.
	SigningKey string `yaml:"signing-key,omitempty"`

	// Path is where the file was read from.
	Path string `yaml:"-"`
	// token, user and password are the resolved secrets; they never leave
	// the package.
	token, user, password string
	key                   ssh.Signer
}

// Auth holds secret references (env:NAME); literals are refused.
type Auth struct {
	Bearer string     `yaml:"bearer,omitempty"`
	Basic  *BasicAuth `yaml:"basic,omitempty"`
}

// BasicAuth is Alertmanager's basic_auth: a user name and a password reference.
type BasicAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Labels are the label names an alert's target is read from; each lists
// names tried in order.
type Labels struct {
	Service     []string `yaml:"service,omitempty"`
	Environment []string `yaml:"environment,omitempty"`
	Severity    []string `yaml:"severity,omitempty"`
}

// Default label names.
var (
	DefaultServiceLabels     = []string{"service"}
	DefaultEnvironmentLabels = []string{"environment", "env"}
	DefaultSeverityLabels    = []string{"severity"}
)

// Load reads and checks the alerts file at p and resolves its secrets from
// the worker's environment (getenv nil means os.LookupEnv).
func Load(p string, getenv func(string) (string, bool)) (*Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	data, err := readLimited(p)
	if err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty; write auth: {bearer: env:NAME} at least", p)
		}
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	c.Path = p
	if problems := c.check(getenv); len(problems) > 0 {
		for i, pr := range problems {
			problems[i] = p + ": " + pr
		}
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return &c, nil
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("RUNBOOK_ALERTS_FILE: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("RUNBOOK_ALERTS_FILE: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; is it the alerts file?", p, maxFileSize)
	}
	return data, nil
}

// check fills the defaults and returns what is wrong.
func (c *Config) check(getenv func(string) (string, bool)) []string {
	var out []string
	switch {
	case c.Auth.Bearer == "" && c.Auth.Basic == nil:
		out = append(out, "auth is required: auth: {bearer: env:NAME} or auth: {basic: {username: U, password: env:NAME}}, as Alertmanager's http_config sends it")
	case c.Auth.Bearer != "" && c.Auth.Basic != nil:
		out = append(out, "auth: set bearer or basic, not both")
	case c.Auth.Bearer != "":
		v, err := resolve("auth.bearer", c.Auth.Bearer, getenv)
		if err != nil {
			out = append(out, err.Error())
		}
		c.token = v
	default:
		if strings.TrimSpace(c.Auth.Basic.Username) == "" {
			out = append(out, "auth.basic.username is required")
		}
		v, err := resolve("auth.basic.password", c.Auth.Basic.Password, getenv)
		if err != nil {
			out = append(out, err.Error())
		}
		c.user, c.password = c.Auth.Basic.Username, v
	}
	c.Labels.Service = orDefault(c.Labels.Service, DefaultServiceLabels)
	c.Labels.Environment = orDefault(c.Labels.Environment, DefaultEnvironmentLabels)
	c.Labels.Severity = orDefault(c.Labels.Severity, DefaultSeverityLabels)
	if c.Breaker != nil {
		out = append(out, c.Breaker.check()...)
	}
	if c.SigningKey != "" {
		k, err := sshsig.SignerFromFile(c.SigningKey)
		if err != nil {
			out = append(out, fmt.Sprintf("signing-key %s: %v", c.SigningKey, err))
		}
		c.key = k
	}
	return out
}

// Signer signs as the name each call gives (runbook:alerts,
// runbook:breaker) with the signing key, or is nil without one.
func (c *Config) Signer() identity.Signer {
	if c.key == nil {
		return nil
	}
	return &identity.SSHSigner{Key: c.key}
}

func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

// resolve reads env:NAME. The secret is the worker's: a name
// RUNBOOK_ENV_ALLOW hands to runbooks is refused, since any runbook could
// then read it and post alerts of its own.
func resolve(field, ref string, getenv func(string) (string, bool)) (string, error) {
	name, ok := strings.CutPrefix(ref, secretref.Prefix)
	switch {
	case ref == "":
		return "", fmt.Errorf("%s is required: env:NAME, the variable holding the secret", field)
	case !ok:
		return "", fmt.Errorf("%s must be env:NAME; a secret written in the alerts file is refused", field)
	case name == "" || strings.ContainsAny(name, " =$") || secretref.Check(name) == nil:
		if name != "" && secretref.Check(name) == nil {
			return "", fmt.Errorf("%s: env:%s is readable by runbooks (%s allows it); use a variable %s does not list", field, name, secretref.AllowEnv, secretref.AllowEnv)
		}
		return "", fmt.Errorf("%s: env:%s is not an environment variable name", field, name)
	}
	v, set := getenv(name)
	if !set || v == "" {
		return "", fmt.Errorf("%s: env:%s is not set in the worker's environment", field, name)
	}
	return v, nil
}

// labelValue is the value of the first of names that the labels carry.
func labelValue(labels map[string]string, names []string) string {
	for _, n := range names {
		if v := labels[n]; v != "" {
			return v
		}
	}
	return ""
}

// safeValue is what a service or environment name may be (the release
// list's filter refuses anything else).
func safeValue(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r)) {
			return false
		}
	}
	return s != ""
}

// sortedKeys are m's keys in order, so checks run the same way each time.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
