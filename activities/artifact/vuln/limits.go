package vuln

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Breach is one severity with more findings than its limit allows.
type Breach struct {
	Severity   string
	Count, Max int
}

// ValidateLimits checks that every key of max is a severity and every limit
// is at least 0. A misspelt severity would otherwise mean "unlimited".
func ValidateLimits(max map[string]int) error {
	seen := map[string]string{}
	for _, sev := range slices.Sorted(maps.Keys(max)) {
		n := max[sev]
		if rank(normal(sev)) == len(Severities) {
			return fmt.Errorf("limit for severity %q: severities are %s", sev, strings.Join(Severities, ", "))
		}
		if other, dup := seen[normal(sev)]; dup {
			return fmt.Errorf("limits for %q and %q name the same severity; keep one", other, sev)
		}
		seen[normal(sev)] = sev
		if n < 0 {
			return fmt.Errorf("limit for severity %q is %d; use 0 to allow none", sev, n)
		}
	}
	return nil
}

// Breaches compares the counts with max (severity, case-insensitive → most
// findings allowed) and returns the exceeded ones, most severe first. A
// severity missing from max is unlimited. Validate max first.
func (r Report) Breaches(max map[string]int) []Breach {
	limits := make(map[string]int, len(max))
	for sev, n := range max {
		limits[normal(sev)] = n
	}
	var out []Breach
	for _, sev := range Severities {
		limit, ok := limits[sev]
		if n := r.Counts.Of(sev); ok && n > limit {
			out = append(out, Breach{Severity: sev, Count: n, Max: limit})
		}
	}
	return out
}

// Describe summarises breaches and up to n of the findings behind them:
// "2 critical (max 0), 5 high (max 3): CVE-2024-1234 in openssl 3.0.1, ...".
func (r Report) Describe(breaches []Breach, n int) string {
	parts := make([]string, 0, len(breaches))
	breached := map[string]bool{}
	for _, b := range breaches {
		parts = append(parts, fmt.Sprintf("%d %s (max %d)", b.Count, b.Severity, b.Max))
		breached[b.Severity] = true
	}
	var names []string
	total := 0
	for _, f := range r.Findings {
		if !breached[f.Severity] {
			continue
		}
		if total++; len(names) < n {
			names = append(names, f.String())
		}
	}
	msg := strings.Join(parts, ", ")
	if len(names) > 0 {
		msg += ": " + strings.Join(names, ", ")
	}
	if more := total - len(names); more > 0 {
		msg += fmt.Sprintf(" and %d more", more)
	}
	return msg
}

func normal(severity string) string { return strings.ToLower(strings.TrimSpace(severity)) }
