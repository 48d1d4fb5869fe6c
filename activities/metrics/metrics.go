// Package metrics is the leaf package of runbook's SLO analysis: one Provider
// interface that every metrics backend implements, the pure analysis functions
// (thresholds, Mann-Whitney U, burn rates), the Measure activity that runs a
// list of checks and returns every measurement it took, and the Bake activity
// that runs them every second while a traffic weight bakes.
//
// Implementations live in subpackages (edge, prometheus, cloudwatch, web). They
// import this package for Query and Sample, so it cannot import them: the
// table of them, a Factories, is the worker's (worker/providers.go), and
// reaches the activities as Activities.Factories.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/providers"
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
	// At, when set, is the instant the answer is as of: the window ends
	// there. A ratio's two queries share one, so the second cannot count
	// traffic the first did not (a tick published between them once made
	// 20% of errors read as 40%). Providers that read live counters
	// (edge, web) answer as of now.
	At time.Time
}

// EndAt is the instant q's window ends: q.At, or now when unset.
func (q Query) EndAt(now time.Time) time.Time {
	if q.At.IsZero() {
		return now
	}
	return q.At
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

// FactoryOf adapts a provider's constructor to a Factory, and checks at
// compile time that it builds a Provider. A failed constructor yields a nil
// Provider, not a typed nil pointer that would compare unequal to nil.
func FactoryOf[P Provider](newProvider func(opts map[string]string) (P, error)) Factory {
	return func(opts map[string]string) (Provider, error) {
		p, err := newProvider(opts)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

// Factories is a registry of providers by the name runbooks use: an
// explicit table, not init-time registration, so what a worker can build
// is written in one place and nothing depends on import side effects.
type Factories map[string]Factory

// New builds the provider called name. A name the runbook format does not
// know and a known one missing from this table get different errors.
func (fs Factories) New(provider string, opts map[string]string) (Provider, error) {
	if f, ok := fs[provider]; ok {
		return f(opts)
	}
	known := providers.Metrics()
	if slices.Contains(known, provider) {
		return nil, fmt.Errorf("metrics provider %q is not in this worker's table: add activities/metrics/%s to worker/providers.go", provider, packageDir(provider))
	}
	return nil, fmt.Errorf("unknown metrics provider %q; known: %s", provider, strings.Join(known, ", "))
}

// packageDir is the folder under activities/metrics of a known provider:
// its name, except "edge", whose package is edgestats (the proxy, its
// router and its metrics each have their own package name).
func packageDir(provider string) string {
	if provider == "edge" {
		return "edgestats"
	}
	return provider
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
