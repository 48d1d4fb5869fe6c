package alerts

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runbookhq/runbook/runbooks"
)

// Scopes of a breaker rule.
const (
	// ScopeService counts each service's releases apart (or one service's,
	// with Rule.Service) and freezes that service.
	ScopeService = "service"
	// ScopeNamespace counts every release and freezes everything.
	ScopeNamespace = "namespace"
)

// DefaultCheckEvery is how often the worker evaluates the breaker besides
// after each alert it acts on.
const DefaultCheckEvery = 5 * time.Minute

// Breaker trips when a rule's count of failed or rolled-back releases
// within its window is reached.
type Breaker struct {
	CheckEvery Duration `yaml:"check-every,omitempty"`
	Rules      []Rule   `yaml:"rules,omitempty"`
	// Burn are the error-budget rules (optional).
	Burn []BurnRule `yaml:"burn,omitempty"`
}

// Rule is `failures: N within: D` over a scope.
type Rule struct {
	Scope string `yaml:"scope"`
	// Service narrows a service rule to one service; empty means each.
	Service  string   `yaml:"service,omitempty"`
	Failures int      `yaml:"failures"`
	Within   Duration `yaml:"within"`
}

func (b *Breaker) check() []string {
	var out []string
	if b.CheckEvery == 0 {
		b.CheckEvery = Duration(DefaultCheckEvery)
	}
	if b.CheckEvery.D() < time.Second {
		out = append(out, fmt.Sprintf("breaker.check-every %s is shorter than 1s", b.CheckEvery))
	}
	if len(b.Rules) == 0 && len(b.Burn) == 0 {
		out = append(out, "breaker.rules is empty; write rules: [{scope: service, failures: 3, within: 24h}] (or burn: [...])")
	}
	for i := range b.Burn {
		out = append(out, b.Burn[i].check(fmt.Sprintf("breaker.burn[%d]", i))...)
	}
	for i, r := range b.Rules {
		p := fmt.Sprintf("breaker.rules[%d]", i)
		if r.Scope != ScopeService && r.Scope != ScopeNamespace {
			out = append(out, fmt.Sprintf("%s: scope %q: use service or namespace", p, r.Scope))
		}
		if r.Scope == ScopeNamespace && r.Service != "" {
			out = append(out, p+": a namespace rule counts every service; remove service or use scope: service")
		}
		if r.Failures < 1 {
			out = append(out, p+": failures must be 1 or more")
		}
		if r.Within <= 0 || r.Within.D() > 30*24*time.Hour {
			out = append(out, p+": within must be more than 0 and at most 30d")
		}
	}
	return out
}

// Duration is a duration in the alerts file: a Go duration or Nd.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads "24h", "90m" or "7d".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := runbooks.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}
