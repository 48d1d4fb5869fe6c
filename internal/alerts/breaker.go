package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/freezes"
)

// BreakerActor is who the breaker's freezes are created by: no person, so
// `freeze list` and the audit show the freeze was automatic.
const BreakerActor = "runbook:breaker"

// Failure is one release that failed or rolled back (or a rollback
// release, which says an earlier release was rolled back).
type Failure struct {
	ReleaseID string
	Service   string
	// State is the release's end (failed, rolled-back, aborted, ...) or
	// "rollback" for a rollback release.
	State    string
	Reason   string
	ClosedAt time.Time
}

// Trip is a rule whose count was reached in one scope: the freeze to
// declare and its evidence.
type Trip struct {
	Rule Rule
	// Service is the frozen service; empty freezes every service.
	Service  string
	Evidence []Failure
	// Burn is set instead of Evidence when an error-budget rule tripped.
	Burn *BurnEvidence
}

// Reason is the freeze's reason: marked automatic, with the evidence.
func (t Trip) Reason() string {
	scope := "the namespace"
	if t.Service != "" {
		scope = t.Service
	}
	if b := t.Burn; b != nil {
		return fmt.Sprintf("automatic: circuit breaker: the error budget of %s burns at %.4g, above %.4g (burn rule %s: %s); lift with `runbook freeze lift` once it is safe",
			scope, b.Value, b.Above, b.Rule, b.Query)
	}
	items := make([]string, len(t.Evidence))
	for i, f := range t.Evidence {
		items[i] = fmt.Sprintf("%s (%s%s)", f.ReleaseID, f.State, shortReason(f.Reason))
	}
	return fmt.Sprintf("automatic: circuit breaker: %d releases of %s failed or rolled back within %s (rule failures: %d within: %s): %s; lift with `runbook freeze lift` once it is safe",
		len(t.Evidence), scope, t.Rule.Within, t.Rule.Failures, t.Rule.Within, strings.Join(items, ", "))
}

func shortReason(r string) string {
	if r == "" {
		return ""
	}
	if len(r) > 80 {
		r = r[:80] + "…"
	}
	return ": " + r
}

// scopeOf is the freeze scope of a breaker freeze: its one service, or ""
// for the namespace; ok is false for freezes the breaker did not declare.
func scopeOf(f freezes.Freeze) (string, bool) {
	if f.CreatedBy != BreakerActor || len(f.Environments) > 0 || len(f.Services) > 1 {
		return "", false
	}
	if len(f.Services) == 1 {
		return f.Services[0], true
	}
	return "", true
}

// Evaluate is the breaker's decision, pure: for each rule and scope, the
// failures closed within the window and after the last lift of the
// breaker's freeze of that scope; a scope whose breaker freeze still holds
// trips no second time. So one trip makes one freeze, and once a person
// lifts it only new failures can trip it again.
func Evaluate(rules []Rule, failures []Failure, frz []freezes.Freeze, now time.Time) []Trip {
	active := map[string]bool{}
	lifted := map[string]time.Time{}
	for _, f := range frz {
		s, ok := scopeOf(f)
		if !ok {
			continue
		}
		if !f.Ended(now) {
			active[s] = true
		} else if end := endOf(f); end.After(lifted[s]) {
			lifted[s] = end
		}
	}
	var trips []Trip
	tripped := map[string]bool{}
	for _, r := range rules {
		for _, svc := range scopes(r, failures) {
			if active[svc] || tripped[svc] {
				continue
			}
			since := now.Add(-r.Within.D())
			if l := lifted[svc]; l.After(since) {
				since = l
			}
			var ev []Failure
			for _, f := range failures {
				if (svc == "" || f.Service == svc) && f.ClosedAt.After(since) && !f.ClosedAt.After(now) {
					ev = append(ev, f)
				}
			}
			if len(ev) >= r.Failures {
				tripped[svc] = true
				trips = append(trips, Trip{Rule: r, Service: svc, Evidence: ev})
			}
		}
	}
	return trips
}

// endOf is when a breaker freeze stopped holding: lifted, or its end.
func endOf(f freezes.Freeze) time.Time {
	if !f.LiftedAt.IsZero() {
		return f.LiftedAt
	}
	return f.To
}

// scopes are the scopes rule r counts in: "" for the namespace, its one
// service, or each service that has a failure, in order.
func scopes(r Rule, failures []Failure) []string {
	switch {
	case r.Scope == ScopeNamespace:
		return []string{""}
	case r.Service != "":
		return []string{r.Service}
	}
	var out []string
	for _, f := range failures {
		if !slices.Contains(out, f.Service) {
			out = append(out, f.Service)
		}
	}
	slices.Sort(out)
	return out
}
