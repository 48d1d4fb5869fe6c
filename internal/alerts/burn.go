package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/activities/metrics"
)

// DefaultBurnCooldown is how long after a person lifted a breaker freeze a
// burn rule of the same scope waits before it may trip again: the budget
// keeps burning for a while after the fix, and the person who lifted the
// freeze has decided to ship meanwhile.
const DefaultBurnCooldown = time.Hour

// BurnRule trips the breaker when an error budget burns too fast: a query
// (PromQL for prometheus) through one of the worker's metrics providers,
// whose value above Above freezes the service (or, without Service, the
// namespace).
type BurnRule struct {
	Name     string            `yaml:"name"`
	Service  string            `yaml:"service,omitempty"`
	Provider string            `yaml:"provider"`
	Options  map[string]string `yaml:"options,omitempty"`
	Query    string            `yaml:"query"`
	Above    float64           `yaml:"above"`
	Cooldown Duration          `yaml:"cooldown,omitempty"`
}

func (r *BurnRule) check(p string) []string {
	var out []string
	if strings.TrimSpace(r.Name) == "" {
		out = append(out, p+": name is required (it names the rule in the freeze's reason)")
	}
	if r.Provider == "" || r.Query == "" {
		out = append(out, p+": provider and query are required, e.g. provider: prometheus, options: {url: ...}, query: <burn-rate PromQL>")
	}
	if r.Above <= 0 {
		out = append(out, p+": above must be more than 0 (a burn rate, e.g. 14.4 for 2% of a 30-day budget in 1h)")
	}
	if r.Cooldown == 0 {
		r.Cooldown = Duration(DefaultBurnCooldown)
	}
	return out
}

// BurnTrip decides a burn rule's trip from its measured value, pure: a
// scope whose breaker freeze holds, or was lifted within the cooldown,
// does not trip.
func BurnTrip(r BurnRule, value float64, frz []freezes.Freeze, now time.Time) (Trip, bool) {
	if burnBlocked(r, frz, now) || !(value > r.Above) {
		return Trip{}, false
	}
	return Trip{Service: r.Service, Burn: &BurnEvidence{Rule: r.Name, Query: r.Query, Value: value, Above: r.Above}}, true
}

// BurnEvidence is what a burn trip measured.
type BurnEvidence struct {
	Rule, Query  string
	Value, Above float64
}

// measureBurn runs a burn rule's query through the worker's providers.
func measureBurn(ctx context.Context, fs metrics.Factories, r BurnRule) (float64, error) {
	if fs == nil {
		return 0, errors.New("no metrics providers configured on this worker")
	}
	p, err := fs.New(r.Provider, r.Options)
	if err != nil {
		return 0, fmt.Errorf("burn rule %s: %w", r.Name, err)
	}
	s, err := p.Query(ctx, metrics.Query{Expr: r.Query})
	if err != nil {
		return 0, fmt.Errorf("burn rule %s: %w", r.Name, err)
	}
	return s.Value, nil
}

// burnBlocked reports whether r's scope has a breaker freeze that holds or
// was lifted within r's cooldown.
func burnBlocked(r BurnRule, frz []freezes.Freeze, now time.Time) bool {
	for _, f := range frz {
		s, ok := scopeOf(f)
		if !ok || s != r.Service {
			continue
		}
		if !f.Ended(now) || (!f.LiftedAt.IsZero() && now.Sub(f.LiftedAt) < r.Cooldown.D()) {
			return true
		}
	}
	return false
}
