// Package metrics is the leaf package of runbook's SLO analysis: one Provider
// interface that every metrics backend implements, the pure analysis functions
// (thresholds, Mann-Whitney U, burn rates), the Measure activity that runs a
// list of checks and returns every measurement it took, and the Bake activity
// that runs them every second while a traffic weight bakes.
//
// Implementations live in subpackages (edge, prometheus; cloudwatch later) and
// register themselves with Register from an init function, so that this package
// stays free of their dependencies. The worker imports the ones it links in.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
)

// Provider answers one metrics query. Implementations must be safe for
// concurrent use: one provider serves every activity on a worker.
type Provider interface {
	Query(ctx context.Context, q Query) (Sample, error)
}

// Query is one question to a provider. What Expr means is up to the provider:
// PromQL for prometheus, a named statistic for edge.
type Query struct {
	// Expr is the expression; prometheus replaces "$window" in it with Window.
	Expr string
	// Window is the time span the answer covers.
	Window time.Duration
	// Backend names the traffic backend (e.g. "canary") for providers that
	// measure per backend, like edge.
	Backend string
	// Step, when set, asks providers that can for every point in Window at this
	// resolution (Sample.Values), as comparisons need raw observations.
	Step time.Duration
	// Since, when set, bounds the window: no traffic before it is judged. A
	// bake sets it to its start, so a weight is judged on its own traffic,
	// never on what the same backend served for an earlier weight or release.
	Since time.Time
}

// Clamp returns the window to measure over at now: Window, cut at Since.
// Less than half the window of data is inconclusive.
func (q Query) Clamp(now time.Time) (time.Duration, error) {
	if q.Since.IsZero() || q.Window <= 0 {
		return q.Window, nil
	}
	have := now.Sub(q.Since)
	if have >= q.Window {
		return q.Window, nil
	}
	if have < q.Window/2 {
		return 0, Inconclusivef("only %s of data since the weight was set, need at least %s of the %s window",
			have.Round(time.Millisecond), q.Window/2, q.Window)
	}
	return have.Truncate(time.Second), nil
}

// Sample is a provider's answer.
type Sample struct {
	// Value is the single number the query asked for.
	Value float64
	// Values are raw observations for comparisons, when the provider has them.
	Values []float64
	// At is when the value was measured.
	At time.Time
}

// ErrInconclusive marks answers that exist but cannot decide anything (NaN, no
// traffic, first scrape). Checks turn it into an Inconclusive verdict, which
// pauses for a person instead of passing. Test with errors.Is.
var ErrInconclusive = errors.New("inconclusive measurement")

// Inconclusivef wraps ErrInconclusive with a reason a person can act on.
func Inconclusivef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInconclusive, fmt.Sprintf(format, args...))
}

// Factory builds a provider from its string options (from the runbook or the
// worker config; secrets are given as "env:NAME").
type Factory func(opts map[string]string) (Provider, error)

// known lists every provider name the product knows, linked in or not, so that
// a typo and a missing import give different errors.
var known = []string{"edge", "prometheus", "cloudwatch"}

const knownMsg = "known: edge, prometheus, cloudwatch"

// packageDir is the folder under activities/metrics of a known provider:
// its name, except "edge", whose package is edgestats (three packages were
// called edge: the proxy, its router and its metrics).
func packageDir(provider string) string {
	if provider == "edge" {
		return "edgestats"
	}
	return provider
}

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a provider available to New. Subpackages call it from init.
// It panics on a duplicate name, which is a programming error.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("metrics: provider registered twice: " + name)
	}
	registry[name] = f
}

// New builds the provider called name. It fails loudly on unknown names and
// on known providers whose package the binary does not import.
func New(provider string, opts map[string]string) (Provider, error) {
	regMu.RLock()
	f, ok := registry[provider]
	regMu.RUnlock()
	if ok {
		return f(opts)
	}
	for _, k := range known {
		if k == provider {
			return nil, fmt.Errorf("metrics provider %q is not linked into this binary: import github.com/runbookhq/runbook/activities/metrics/%s", provider, packageDir(provider))
		}
	}
	return nil, fmt.Errorf("unknown metrics provider %q; %s", provider, knownMsg)
}

// Registered returns the names of the linked-in providers, sorted.
func Registered() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Secret resolves an option value: "env:NAME" reads the environment variable
// NAME, if the worker allows runbooks to read it (secretref), and fails when
// it is empty; anything else is returned as is.
func Secret(v string) (string, error) {
	name, ok := strings.CutPrefix(v, secretref.Prefix)
	if !ok {
		return v, nil
	}
	s, _, err := secretref.Lookup(name)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fmt.Errorf("environment variable %s is empty or unset: export it on the worker", name)
	}
	return s, nil
}

// CheckURL refuses a provider URL on a link-local or cloud metadata host, as
// written; the providers' HTTP clients check the resolved address too.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	return netguard.CheckHost(u.Hostname())
}
