// Package scrub masks what looks like a credential in text the worker keeps,
// such as the start of a response body recorded in workflow history. A check
// pointed at the wrong place (a metadata service, a debug page) must not copy
// a key pair into history, where every reader of the namespace sees it.
// It errs on the side of masking: a masked commit hash costs little.
package scrub

import (
	"math"
	"regexp"
	"strings"
)

// Mask replaces what is scrubbed.
const Mask = "[redacted]"

// rules are applied in order; each replaces its match by its template.
var rules = []struct {
	re   *regexp.Regexp
	with string
}{
	// PEM private keys, to their END line or the end of the text.
	{regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)`), Mask},
	// Fields named like a secret, in JSON ("SecretAccessKey": "...") or
	// key=value form; the name stays, so the reader knows what was there.
	{regexp.MustCompile(`(?i)("?[A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|credential|private[_-]?key|api[_-]?key|access[_-]?key|signature)[A-Za-z0-9_.-]*"?\s*[:=]\s*)(?:"(?:[^"\\]|\\.)*"?|[^\s,;&}"]+)`), "${1}" + Mask},
	// Credentials after an HTTP authentication scheme.
	{regexp.MustCompile(`(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/-]{8,}=*`), "${1}${2}" + Mask},
	// AWS access key IDs.
	{regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}\b`), Mask},
	// Slack and GitHub tokens, JSON Web Tokens.
	{regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`), Mask},
	{regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{20,}`), Mask},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`), Mask},
}

// longToken is a run long enough to be a generated secret.
var longToken = regexp.MustCompile(`[A-Za-z0-9+/_-]{32,}={0,2}`)

// Text returns s with credentials masked.
func Text(s string) string {
	for _, r := range rules {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return longToken.ReplaceAllStringFunc(s, func(tok string) string {
		if looksRandom(tok) {
			return Mask
		}
		return tok
	})
}

// looksRandom tells a generated token from a long word or identifier: it
// is hex with letters and digits (secrets such as Slack's signing secret
// are), or it mixes upper case, lower case and digits over many symbols (4
// bits or more per character), as base62 and base64 secrets do.
func looksRandom(tok string) bool {
	tok = strings.TrimRight(tok, "=")
	var upper, lower, digit bool
	hex := true
	for _, c := range tok {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
			hex = hex && c <= 'f'
		case c >= 'A' && c <= 'Z':
			upper = true
			hex = hex && c <= 'F'
		default:
			hex = false
		}
	}
	if hex {
		return digit && (lower || upper)
	}
	return upper && lower && digit && entropy(tok) >= 4.0
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}
