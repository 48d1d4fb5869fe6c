// Package weights holds what every weighted router checks the same way:
// a request names known backends with weights in range, and the weights
// read back after a change are the ones asked for. Providers wrap the
// messages in their own non-retryable errors.
package weights

import (
	"fmt"
	"slices"
	"strings"
)

// Check returns a message for the first backend, by name, that the router
// does not know or whose weight is outside 0..max, or "" when all are fine.
// provider prefixes the message; hint says how to add an unknown backend.
func Check(provider string, known map[string]string, weights map[string]int, max int, hint func(name string) string) string {
	for _, name := range Names(weights) {
		if _, ok := known[name]; !ok {
			return fmt.Sprintf("%s: unknown backend %q; known: %s (%s)", provider, name, strings.Join(Names(known), ", "), hint(name))
		}
		if w := weights[name]; w < 0 || w > max {
			return fmt.Sprintf("%s: backend %q: weight %d out of range 0..%d", provider, name, w, max)
		}
	}
	return ""
}

// Verify fails unless every weight of want was read back in got, listing
// the mismatches in name order so the message is stable.
func Verify(where string, want, got map[string]int) error {
	var bad []string
	for _, name := range Names(want) {
		if g, ok := got[name]; !ok || g != want[name] {
			bad = append(bad, fmt.Sprintf("%s=%d (read back %d)", name, want[name], g))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s: weights did not take effect: %s; another writer may be changing them", where, strings.Join(bad, ", "))
}

// Names returns the keys of m, sorted.
func Names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
