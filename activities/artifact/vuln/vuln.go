// Package vuln reads vulnerability scanner reports (SARIF 2.1.0 as Trivy,
// Grype and GitHub code scanning write it, and osv-scanner's JSON), counts
// findings per severity and compares the counts with a release's limits. It
// is pure: the activity and the CLI share it.
package vuln

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Severities, from most to least severe. Unknown holds findings whose report
// gives no severity at all; it is counted so that a limit can cover it.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
	Low      = "low"
	Unknown  = "unknown"
)

// Severities lists every severity, most severe first.
var Severities = []string{Critical, High, Medium, Low, Unknown}

// Report formats.
const (
	FormatSARIF = "sarif"
	FormatOSV   = "osv"
)

// Finding is one vulnerability in one place.
type Finding struct {
	// ID is the rule ID (SARIF) or the first ID of an OSV alias group.
	ID       string
	Severity string
	// Score is the CVSS base score the report gives, 0 when it gives none.
	Score float64 `json:",omitempty"`
	// Location is "package version (ecosystem)" for OSV, the first
	// location's "uri[:line]" for SARIF.
	Location string `json:",omitempty"`
	Title    string `json:",omitempty"`
	// Aliases are the other IDs of the same vulnerability (OSV).
	Aliases []string `json:",omitempty"`
}

// String is "ID in Location", the form error messages use.
func (f Finding) String() string {
	if f.Location == "" {
		return f.ID
	}
	return f.ID + " in " + f.Location
}

// Counts holds the number of findings per severity. A struct rather than a
// map so that workflow code can read it without ranging over a map.
type Counts struct {
	Critical, High, Medium, Low, Unknown int
}

// Of returns the count for a severity name.
func (c Counts) Of(severity string) int {
	switch severity {
	case Critical:
		return c.Critical
	case High:
		return c.High
	case Medium:
		return c.Medium
	case Low:
		return c.Low
	case Unknown:
		return c.Unknown
	}
	return 0
}

// Total is the number of findings.
func (c Counts) Total() int { return c.Critical + c.High + c.Medium + c.Low + c.Unknown }

func (c *Counts) add(severity string) {
	switch severity {
	case Critical:
		c.Critical++
	case High:
		c.High++
	case Medium:
		c.Medium++
	case Low:
		c.Low++
	default:
		c.Unknown++
	}
}

// Report is a parsed scanner report.
type Report struct {
	Format string
	Counts Counts
	// Findings are sorted most severe first, then by score, ID and location.
	Findings []Finding
}

// Parse reads a report in format (FormatSARIF, FormatOSV, or "" to detect it
// from the content), counts its findings and sorts them most severe first.
// Errors name what is wrong and where.
func Parse(data []byte, format string) (Report, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Report{}, errors.New("report is empty; the scanner may have failed before writing it")
	}
	format, err := resolveFormat(data, format)
	if err != nil {
		return Report{}, err
	}
	var findings []Finding
	switch format {
	case FormatSARIF:
		findings, err = parseSARIF(data)
	case FormatOSV:
		findings, err = parseOSV(data)
	}
	if err != nil {
		return Report{}, err
	}
	return newReport(format, findings), nil
}

// newReport counts and sorts findings.
func newReport(format string, findings []Finding) Report {
	r := Report{Format: format, Findings: findings}
	for _, f := range findings {
		r.Counts.add(f.Severity)
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(rank(a.Severity), rank(b.Severity)),
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Location, b.Location))
	})
	return r
}

// rank orders severities, most severe first.
func rank(severity string) int {
	if i := slices.Index(Severities, severity); i >= 0 {
		return i
	}
	return len(Severities)
}

// resolveFormat checks an explicit format or detects one from the top-level
// keys: SARIF logs have "runs", osv-scanner output has "results".
func resolveFormat(data []byte, format string) (string, error) {
	switch f := strings.ToLower(strings.TrimSpace(format)); f {
	case FormatSARIF, FormatOSV:
		return f, nil
	case "":
	default:
		return "", fmt.Errorf("format %q is unknown; use %q, %q or leave it empty to detect", format, FormatSARIF, FormatOSV)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return "", jsonError(data, "report", err)
	}
	switch {
	case top["runs"] != nil:
		return FormatSARIF, nil
	case top["results"] != nil:
		return FormatOSV, nil
	}
	return "", errors.New("report is neither SARIF (no \"runs\") nor osv-scanner JSON (no \"results\"); pass the scanner's SARIF or `osv-scanner --format json` output")
}

// jsonError turns decoder errors into messages with a line and column.
func jsonError(data []byte, what string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte; point at it, not past it.
		return fmt.Errorf("%s is not valid JSON at %s: %v", what, position(data, syn.Offset-1), syn)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("%s is a JSON %s, want an object", what, typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: field %q holds a JSON %s at %s, want %s", what, typ.Field, typ.Value, position(data, typ.Offset), typ.Type)
	}
	return fmt.Errorf("%s: %v", what, err)
}

// position converts a byte offset to "line L, column C".
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// severityOfScore maps a CVSS score as GitHub code scanning does.
func severityOfScore(score float64) string {
	switch {
	case score >= 9.0:
		return Critical
	case score >= 7.0:
		return High
	case score >= 4.0:
		return Medium
	case score > 0:
		return Low
	}
	return ""
}

// parseScore reads a CVSS score given as a JSON string ("9.8") or number.
// Absent or empty is 0; anything else outside 0..10 is an error, since a
// garbled score must not let a critical finding through as unknown.
func parseScore(raw json.RawMessage) (float64, error) {
	given := bytes.TrimSpace(raw)
	if len(given) == 0 || string(given) == "null" {
		return 0, nil
	}
	num := given
	var s string
	if err := json.Unmarshal(given, &s); err == nil {
		if s = strings.TrimSpace(s); s == "" {
			return 0, nil
		}
		num = []byte(s)
	}
	var score float64
	if err := json.Unmarshal(num, &score); err != nil || score < 0 || score > 10 {
		return 0, fmt.Errorf("score %s is not a CVSS score between 0.0 and 10.0", given)
	}
	return score, nil
}

// shorten keeps the first line of s and at most n runes of it.
func shorten(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return strings.TrimSpace(string(r[:n-1])) + "…"
	}
	return s
}

const titleRunes = 120
