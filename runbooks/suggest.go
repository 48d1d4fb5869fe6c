package runbooks

import (
	"fmt"
	"strings"
)

// unknownKey explains an unknown key: a "did you mean" when a valid key is
// close (a typo, snake_case or camelCase), otherwise the keys allowed here.
func unknownKey(key string, valid []string) string {
	if s := suggest(key, valid); s != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, s)
	}
	msg := fmt.Sprintf("unknown key %q; valid keys here are: %s", key, strings.Join(valid, ", "))
	if (key == "kind" || key == "type") && contains(valid, KindHTTPCheck) {
		// People coming from Kubernetes-style schemas expect a kind field.
		msg += " (a step's kind is its key, e.g. http-check: {url: ...})"
	}
	return msg
}

// suggest returns the valid key closest to key, or "" when none is close
// enough to be a likely typo. Case, dashes and underscores are ignored
// first, so api_version and apiVersion both find api-version.
func suggest(key string, valid []string) string {
	norm := normalizeKey(key)
	for _, v := range valid {
		if normalizeKey(v) == norm {
			return v
		}
	}
	// Allow about one edit per three letters, at most three, so a short
	// unknown key is not "corrected" into an unrelated short key.
	limit := len([]rune(key))/3 + 1
	if limit > 3 {
		limit = 3
	}
	best, bestDist := "", limit+1
	for _, v := range valid {
		if dist := editDistance(strings.ToLower(key), v); dist < bestDist {
			best, bestDist = v, dist
		}
	}
	return best
}

func normalizeKey(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(s)
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters each
// count one, since a swap ("sevrice") is the most common typo of all.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Keys are short; a long unknown key cannot be close to any of them,
	// and bounding the work keeps hostile input cheap.
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
