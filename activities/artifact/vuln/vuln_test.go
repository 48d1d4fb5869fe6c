package vuln

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		file, format string
		counts       Counts
		first        Finding
	}{
		{"trivy.sarif", FormatSARIF, Counts{Critical: 2, High: 3, Medium: 2, Low: 1}, Finding{
			ID: "CVE-2022-48174", Severity: Critical, Score: 9.8, Location: "registry.example/checkout: busybox@1.35.0-r29",
			Title: "busybox: stack overflow vulnerability in ash.c leads to arbitrary code execution",
		}},
		{"grype.sarif", FormatSARIF, Counts{Critical: 2, High: 2, Low: 1}, Finding{
			ID: "CVE-2022-48174-busybox", Severity: Critical, Score: 9.8, Location: "image//lib/apk/db/installed:1",
			Title: "CVE-2022-48174 critical vulnerability for busybox package",
		}},
		{"osv-scanner.json", FormatOSV, Counts{Critical: 1, High: 3, Medium: 3}, Finding{
			ID: "GHSA-xvch-5gv4-984h", Severity: Critical, Score: 9.8, Location: "minimist 1.2.5 (npm)",
			Title: "Prototype Pollution in minimist", Aliases: []string{"CVE-2021-44906"},
		}},
		{"osv-scanner-nogroups.json", FormatOSV, Counts{Medium: 1, Low: 1, Unknown: 1}, Finding{
			ID: "GHSA-g3rq-g295-4j3m", Severity: Medium, Location: "jinja2 2.11.2 (PyPI)",
			Title: "Regular Expression Denial of Service (ReDoS) in Jinja2", Aliases: []string{"PYSEC-2021-66", "CVE-2020-28493"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := fixture(t, tc.file)
			for _, format := range []string{"", tc.format, strings.ToUpper(tc.format)} {
				rep, err := Parse(data, format)
				if err != nil {
					t.Fatalf("format %q: %v", format, err)
				}
				if rep.Format != tc.format || rep.Counts != tc.counts || len(rep.Findings) != tc.counts.Total() {
					t.Fatalf("format %q: got %s %+v with %d findings, want %s %+v", format, rep.Format, rep.Counts, len(rep.Findings), tc.format, tc.counts)
				}
				if got := rep.Findings[0]; !equalFinding(got, tc.first) {
					t.Errorf("first finding = %#v\nwant %#v", got, tc.first)
				}
				assertSorted(t, rep.Findings)
			}
		})
	}
}

func equalFinding(a, b Finding) bool {
	return a.ID == b.ID && a.Severity == b.Severity && a.Score == b.Score && a.Location == b.Location &&
		a.Title == b.Title && slices.Equal(a.Aliases, b.Aliases)
}

func assertSorted(t *testing.T, fs []Finding) {
	t.Helper()
	for i := 1; i < len(fs); i++ {
		if rank(fs[i-1].Severity) > rank(fs[i].Severity) {
			t.Fatalf("findings not sorted most severe first: %s before %s", fs[i-1].Severity, fs[i].Severity)
		}
	}
}

func TestOSVGroupsDeduplicateAliases(t *testing.T) {
	rep, err := Parse(fixture(t, "osv-scanner.json"), FormatOSV)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Finding{}
	for _, f := range rep.Findings {
		if _, dup := byID[f.ID]; dup {
			t.Errorf("%s counted twice", f.ID)
		}
		byID[f.ID] = f
	}
	for _, id := range []string{"GO-2024-2687", "GO-2024-3333", "GO-2025-3553"} {
		if _, ok := byID[id]; ok {
			t.Errorf("%s is an alias in a group and must not be its own finding", id)
		}
	}
	// Group without max_severity: the GHSA word MODERATE decides.
	if f := byID["GHSA-w32m-9786-jp63"]; f.Severity != Medium || f.Score != 0 {
		t.Errorf("fallback to database_specific.severity: %+v", f)
	}
	if f := byID["GHSA-4v7x-pqxf-cx7m"]; !slices.Equal(f.Aliases, []string{"GO-2024-2687", "CVE-2023-45288"}) {
		t.Errorf("aliases = %v", f.Aliases)
	}
}

// sarifDoc wraps results and rules in a minimal SARIF 2.1.0 log.
func sarifDoc(rules, results string) []byte {
	return []byte(`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t", "rules": [` + rules + `]}}, "results": [` + results + `]}]}`)
}

func TestSARIFSeverity(t *testing.T) {
	for name, tc := range map[string]struct {
		rules, result string
		want          string // "" means the result is not a finding
		score         float64
	}{
		"level error":                 {``, `{"ruleId": "R", "level": "error"}`, High, 0},
		"level warning":               {``, `{"ruleId": "R", "level": "warning"}`, Medium, 0},
		"level note":                  {``, `{"ruleId": "R", "level": "note"}`, Low, 0},
		"level none":                  {``, `{"ruleId": "R", "level": "none"}`, "", 0},
		"SARIF default level":         {``, `{"ruleId": "R"}`, Medium, 0},
		"rule default level":          {`{"id": "R", "defaultConfiguration": {"level": "error"}}`, `{"ruleId": "R"}`, High, 0},
		"score 9.0 is critical":       {`{"id": "R", "properties": {"security-severity": "9.0"}}`, `{"ruleId": "R", "level": "note"}`, Critical, 9},
		"score 8.9 is high":           {`{"id": "R", "properties": {"security-severity": "8.9"}}`, `{"ruleId": "R"}`, High, 8.9},
		"score 7.0 is high":           {`{"id": "R", "properties": {"security-severity": "7.0"}}`, `{"ruleId": "R"}`, High, 7},
		"score 6.9 is medium":         {`{"id": "R", "properties": {"security-severity": "6.9"}}`, `{"ruleId": "R"}`, Medium, 6.9},
		"score 4.0 is medium":         {`{"id": "R", "properties": {"security-severity": "4.0"}}`, `{"ruleId": "R"}`, Medium, 4},
		"score 0.1 is low":            {`{"id": "R", "properties": {"security-severity": "0.1"}}`, `{"ruleId": "R", "level": "error"}`, Low, 0.1},
		"score 0 falls back to level": {`{"id": "R", "properties": {"security-severity": "0.0"}}`, `{"ruleId": "R", "level": "error"}`, High, 0},
		"numeric score":               {`{"id": "R", "properties": {"security-severity": 9.5}}`, `{"ruleId": "R"}`, Critical, 9.5},
		"result score wins":           {`{"id": "R", "properties": {"security-severity": "3.0"}}`, `{"ruleId": "R", "properties": {"security-severity": "9.1"}}`, Critical, 9.1},
		"rule by index":               {`{"id": "A"}, {"id": "B", "properties": {"security-severity": "7.5"}}`, `{"ruleId": "B", "ruleIndex": 1}`, High, 7.5},
		"rule by rule.id":             {`{"id": "B", "properties": {"security-severity": "7.5"}}`, `{"rule": {"id": "B"}}`, High, 7.5},
		"kind pass":                   {``, `{"ruleId": "R", "kind": "pass", "level": "error"}`, "", 0},
		"fixed since baseline":        {``, `{"ruleId": "R", "level": "error", "baselineState": "absent"}`, "", 0},
		"suppressed":                  {``, `{"ruleId": "R", "level": "error", "suppressions": [{"kind": "inSource"}]}`, "", 0},
		"suppression rejected":        {``, `{"ruleId": "R", "level": "error", "suppressions": [{"kind": "external", "status": "rejected"}]}`, High, 0},
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := Parse(sarifDoc(tc.rules, tc.result), "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(rep.Findings) != 0 {
					t.Errorf("findings = %+v, want none", rep.Findings)
				}
				return
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Severity != tc.want || rep.Findings[0].Score != tc.score {
				t.Errorf("findings = %+v, want one %s with score %v", rep.Findings, tc.want, tc.score)
			}
		})
	}
}

func TestSARIFExtensionRuleAndDuplicateRuns(t *testing.T) {
	run := `{"tool": {"driver": {"name": "codeql"}, "extensions": [{"name": "pack", "rules": [{"id": "go/sql-injection", "shortDescription": {"text": "Database query built from user-controlled sources"}, "properties": {"security-severity": "8.8"}}]}]},
		"results": [{"rule": {"id": "go/sql-injection", "index": 0, "toolComponent": {"index": 0}}, "message": {"text": "This query depends on a user-provided value."},
		"locations": [{"physicalLocation": {"artifactLocation": {"uri": "internal/store/orders.go"}, "region": {"startLine": 42}}}]}]}`
	rep, err := Parse([]byte(`{"version": "2.1.0", "runs": [`+run+`, `+run+`]}`), FormatSARIF)
	if err != nil {
		t.Fatal(err)
	}
	want := Finding{ID: "go/sql-injection", Severity: High, Score: 8.8, Location: "internal/store/orders.go:42", Title: "Database query built from user-controlled sources"}
	if len(rep.Findings) != 1 || !equalFinding(rep.Findings[0], want) {
		t.Errorf("findings = %+v, want one %+v", rep.Findings, want)
	}
}

func TestParseMalformed(t *testing.T) {
	for name, tc := range map[string]struct {
		data, format, want string
	}{
		"empty":                    {" \n", "", "empty"},
		"truncated":                {`{"runs": [`, "", "not valid JSON at line 1"},
		"syntax error on line 3":   {"{\n  \"runs\": [\n    {,}\n  ]\n}", "", "line 3, column 6"},
		"array":                    {`[1, 2]`, "", "JSON array, want an object"},
		"neither":                  {`{"bomFormat": "CycloneDX"}`, "", "neither SARIF"},
		"unknown format":           {`{}`, "cyclonedx", `format "cyclonedx" is unknown`},
		"OSV asked, SARIF given":   {string(sarifDoc("", "")), FormatOSV, `no "results" array`},
		"SARIF asked, OSV given":   {`{"results": []}`, FormatSARIF, `no "runs" array`},
		"SARIF 2.0":                {`{"version": "2.0.0", "runs": []}`, "", `version "2.0.0"`},
		"no rule id":               {string(sarifDoc("", `{"level": "error"}`)), "", "runs[0].results[0]: result has no ruleId"},
		"score not a number":       {string(sarifDoc(`{"id": "R", "properties": {"security-severity": "high"}}`, `{"ruleId": "R"}`)), "", `security-severity: score "high"`},
		"score above 10":           {string(sarifDoc(`{"id": "R", "properties": {"security-severity": "11"}}`, `{"ruleId": "R"}`)), "", "between 0.0 and 10.0"},
		"rule index out of range":  {string(sarifDoc(`{"id": "R"}`, `{"ruleId": "R", "ruleIndex": 3}`)), "", "ruleIndex 3 is outside the 1 rules"},
		"bad level":                {string(sarifDoc("", `{"ruleId": "R", "level": "fatal"}`)), "", `level "fatal"`},
		"results wrong type":       {`{"results": {"a": 1}}`, "", `field "results" holds a JSON object`},
		"OSV vuln without id":      {`{"results": [{"packages": [{"package": {"name": "p"}, "vulnerabilities": [{"summary": "x"}]}]}]}`, "", "results[0].packages[0] (p): vulnerabilities[0] has no id"},
		"OSV group without ids":    {`{"results": [{"packages": [{"package": {"name": "p"}, "vulnerabilities": [{"id": "A"}], "groups": [{"ids": []}]}]}]}`, "", "groups[0]: group has no ids"},
		"OSV bad max_severity":     {`{"results": [{"packages": [{"package": {"name": "p"}, "vulnerabilities": [{"id": "A"}], "groups": [{"ids": ["A"], "max_severity": "CRITICAL"}]}]}]}`, "", `max_severity: score "CRITICAL"`},
		"OSV package without name": {`{"results": [{"packages": [{"package": {}, "vulnerabilities": [{"id": "A"}]}]}]}`, "", "package has no name"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCleanReports(t *testing.T) {
	for name, data := range map[string]string{
		"SARIF without results": `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Trivy"}}, "results": []}]}`,
		"OSV without results":   `{"results": []}`,
	} {
		rep, err := Parse([]byte(data), "")
		if err != nil || rep.Counts.Total() != 0 {
			t.Errorf("%s: %+v, %v", name, rep, err)
		}
	}
}

func TestBreachesAndDescribe(t *testing.T) {
	rep, err := Parse(fixture(t, "osv-scanner.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		max  map[string]int
		want string // "" means no breach
	}{
		"no limits":        {nil, ""},
		"within limits":    {map[string]int{Critical: 1, High: 3, Medium: 3, Low: 0}, ""},
		"critical":         {map[string]int{Critical: 0}, "1 critical (max 0): GHSA-xvch-5gv4-984h in minimist 1.2.5 (npm)"},
		"case-insensitive": {map[string]int{"CRITICAL": 0}, "1 critical (max 0): GHSA-xvch-5gv4-984h in minimist 1.2.5 (npm)"},
		"two levels": {map[string]int{High: 2, Medium: 0}, "3 high (max 2), 3 medium (max 0): " +
			"GHSA-mh63-6h87-95cp in github.com/golang-jwt/jwt/v4 4.5.0 (Go), GHSA-p6mc-m468-83gw in lodash 4.17.15 (npm), " +
			"GHSA-35jh-r3h4-6jhm in lodash 4.17.15 (npm), GHSA-29mw-wpgm-hmr9 in lodash 4.17.15 (npm), " +
			"GHSA-4v7x-pqxf-cx7m in golang.org/x/net 0.17.0 (Go) and 1 more"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := ValidateLimits(tc.max); err != nil {
				t.Fatal(err)
			}
			b := rep.Breaches(tc.max)
			if got := rep.Describe(b, 5); (len(b) > 0) != (tc.want != "") || got != tc.want {
				t.Errorf("breaches %+v: %q\nwant %q", b, got, tc.want)
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	for name, tc := range map[string]struct {
		max  map[string]int
		want string
	}{
		"misspelt":  {map[string]int{"critcal": 0}, `severity "critcal"`},
		"moderate":  {map[string]int{"moderate": 0}, "severities are critical, high, medium, low, unknown"},
		"negative":  {map[string]int{High: -1}, "use 0 to allow none"},
		"duplicate": {map[string]int{High: 1, "HIGH": 2}, "name the same severity"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := ValidateLimits(tc.max); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
