package terraform

import (
	"fmt"
	"regexp"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

const (
	maxDiags  = 3   // errors quoted in a message; the rest are usually consequences
	maxDetail = 300 // characters of a diagnostic's detail quoted in a message
)

// diagnostic is an OpenTofu error or warning, from -json output or stderr.
type diagnostic struct {
	Error   bool
	Summary string
	Detail  string
	Where   string // "main.tf line 3" or a resource address
}

func fromJSON(d tfjson.Diagnostic) diagnostic {
	out := diagnostic{Error: d.Severity == tfjson.DiagnosticSeverityError, Summary: d.Summary, Detail: d.Detail, Where: d.Address}
	if d.Range != nil && d.Range.Filename != "" {
		out.Where = fmt.Sprintf("%s line %d", d.Range.Filename, d.Range.Start.Line)
	}
	return out
}

// String is "summary: detail (where)" on one line, the detail shortened.
func (d diagnostic) String() string {
	s := d.Summary
	if detail := strings.Join(strings.Fields(d.Detail), " "); detail != "" {
		if len(detail) > maxDetail {
			detail = detail[:maxDetail] + "..."
		}
		s += ": " + detail
	}
	if d.Where != "" {
		s += " (" + d.Where + ")"
	}
	return s
}

// describe joins the first distinct errors. OpenTofu often repeats one (an
// interrupted apply reports "execution halted" per goroutine).
func describe(diags []diagnostic) string {
	var parts []string
	seen := map[string]bool{}
	for _, d := range diags {
		if !d.Error || seen[d.String()] {
			continue
		}
		seen[d.String()] = true
		if len(parts) < maxDiags {
			parts = append(parts, d.String())
		}
	}
	if n := len(seen) - len(parts); n > 0 {
		parts = append(parts, fmt.Sprintf("and %d more errors", n))
	}
	return strings.Join(parts, "; ")
}

// parseStderr reads the diagnostics of OpenTofu's human-readable stderr:
//
//	Error: Summary
//
//	  on main.tf line 1, in variable "x":
//	   1: variable "x" {
//
//	Detail paragraph, possibly
//	wrapped over lines.
//
// Indented lines (source snippets, values) are skipped: they may quote values.
func parseStderr(s string) []diagnostic {
	var out []diagnostic
	var cur *diagnostic
	inDetail, detailDone := false, false
	for _, line := range strings.Split(s, "\n") {
		if sev, summary, ok := diagHeader(line); ok {
			out = append(out, diagnostic{Error: sev == "Error", Summary: summary})
			cur, inDetail, detailDone = &out[len(out)-1], false, false
			continue
		}
		switch {
		case cur == nil || detailDone:
		case strings.TrimSpace(line) == "":
			detailDone = inDetail
		case strings.HasPrefix(line, "  on "):
			where, _, _ := strings.Cut(strings.TrimSpace(line[5:]), ",")
			cur.Where = strings.TrimSuffix(where, ":")
		case strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t"):
		default:
			cur.Detail = strings.TrimSpace(cur.Detail + " " + line)
			inDetail = true
		}
	}
	return out
}

func diagHeader(line string) (sev, summary string, ok bool) {
	for _, p := range []string{"Error", "Warning"} {
		if rest, found := strings.CutPrefix(line, p+": "); found {
			return p, strings.TrimSpace(rest), true
		}
	}
	return "", "", false
}

var (
	lockRE  = regexp.MustCompile(`(?i)error acquiring the state lock`)
	staleRE = regexp.MustCompile(`(?i)saved plan (is stale|does not match)`)
	// invalidRE matches the summaries of errors in the module or its
	// variables: the same input fails the same way every time.
	invalidRE = regexp.MustCompile(`(?i)^(no value for required variable|invalid value for (input )?variable|` +
		`invalid (function argument|expression|reference|count argument|for_each argument|template)|error in function call|` +
		`unsupported (argument|attribute|block type)|reference to undeclared|missing required argument|` +
		`failed to read variables file|module not installed|unreadable module directory|backend (configuration changed|initialization required))`)
	// transientRE matches failures worth another attempt: network trouble,
	// throttling, services briefly unavailable.
	transientRE = regexp.MustCompile(`(?i)(timeout|timed out|connection (refused|reset)|broken pipe|unexpected eof|` +
		`tls handshake|no such host|temporar(y|ily)|throttl|rate exceeded|too many requests|` +
		`service unavailable|bad gateway|internal server error|\b(429|500|502|503|504)\b|try again)`)
	lockIDRE = regexp.MustCompile(`(?m)^\s*ID:\s+(\S+)`)
)

// matches tells whether any error's summary (or, for the text patterns,
// summary and detail) matches re.
func matches(diags []diagnostic, re *regexp.Regexp, detail bool) bool {
	for _, d := range diags {
		if d.Error && (re.MatchString(d.Summary) || detail && re.MatchString(d.Detail)) {
			return true
		}
	}
	return false
}

// lockID returns the lock ID from a lock error's "Lock Info", or "".
func lockID(diags []diagnostic, stderr string) string {
	for _, text := range append([]string{stderr}, detailsOf(diags)...) {
		if m := lockIDRE.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	return ""
}

func detailsOf(diags []diagnostic) []string {
	var s []string
	for _, d := range diags {
		s = append(s, d.Detail)
	}
	return s
}
