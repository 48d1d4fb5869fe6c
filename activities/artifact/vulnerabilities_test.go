package artifact

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/activities/artifact/vuln"
)

// report returns the absolute path of a fixture of package vuln.
func report(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("vuln", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func checkVulns(t *testing.T, in CheckVulnerabilitiesInput) (CheckVulnerabilitiesResult, error) {
	t.Helper()
	return (&Activities{}).CheckVulnerabilities(t.Context(), in)
}

func TestCheckVulnerabilities(t *testing.T) {
	osv, trivy := report(t, "osv-scanner.json"), report(t, "trivy.sarif")
	malformed := filepath.Join(t.TempDir(), "broken.sarif")
	if err := os.WriteFile(malformed, []byte(`{"version": "2.1.0", "runs": [{"results": [{"level": "error"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		in     CheckVulnerabilitiesInput
		counts vuln.Counts
		typ    string
		msg    string
	}{
		"osv, no limits":      {CheckVulnerabilitiesInput{Report: osv}, vuln.Counts{Critical: 1, High: 3, Medium: 3}, "", ""},
		"osv within limits":   {CheckVulnerabilitiesInput{Report: osv, Max: map[string]int{"critical": 1, "high": 3}}, vuln.Counts{Critical: 1, High: 3, Medium: 3}, "", ""},
		"sarif, format given": {CheckVulnerabilitiesInput{Report: "file://" + trivy, Format: "sarif", Max: map[string]int{"low": 1}}, vuln.Counts{Critical: 2, High: 3, Medium: 2, Low: 1}, "", ""},
		"osv critical breached": {CheckVulnerabilitiesInput{Report: osv, Max: map[string]int{"critical": 0}}, vuln.Counts{Critical: 1, High: 3, Medium: 3},
			ErrTypeVulnerable, "1 critical (max 0): GHSA-xvch-5gv4-984h in minimist 1.2.5 (npm); upgrade the affected packages"},
		"sarif two levels breached": {CheckVulnerabilitiesInput{Report: trivy, Max: map[string]int{"Critical": 0, "high": 2, "medium": 5}}, vuln.Counts{Critical: 2, High: 3, Medium: 2, Low: 1},
			ErrTypeVulnerable, "2 critical (max 0), 3 high (max 2): CVE-2022-48174 in registry.example/checkout: busybox@1.35.0-r29, CVE-2024-5535 in"},
		"wrong format given": {CheckVulnerabilitiesInput{Report: trivy, Format: "osv"}, vuln.Counts{}, ErrTypeInvalid, `no "results" array`},
		"malformed":          {CheckVulnerabilitiesInput{Report: malformed}, vuln.Counts{}, ErrTypeInvalid, "results[0]: result has no ruleId"},
		"misspelt limit":     {CheckVulnerabilitiesInput{Report: osv, Max: map[string]int{"critcal": 0}}, vuln.Counts{}, ErrTypeInvalid, "vulnerability limits"},
		"missing report":     {CheckVulnerabilitiesInput{Report: osv + ".missing"}, vuln.Counts{}, ErrTypeNotFound, "vulnerability report"},
		"relative report":    {CheckVulnerabilitiesInput{Report: "reports/osv.json"}, vuln.Counts{}, ErrTypeInvalid, "absolute path"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := checkVulns(t, tc.in)
			if tc.typ == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Counts != tc.counts || len(res.Findings) != tc.counts.Total() || res.Omitted != 0 {
					t.Errorf("result %+v, want counts %+v", res, tc.counts)
				}
				return
			}
			ae := appErr(t, err, tc.typ, true)
			if !strings.Contains(ae.Message(), tc.msg) {
				t.Errorf("message %q lacks %q", ae.Message(), tc.msg)
			}
			if tc.typ != ErrTypeVulnerable {
				return
			}
			var details CheckVulnerabilitiesResult
			if err := ae.Details(&details); err != nil || details.Counts != tc.counts {
				t.Errorf("details %+v, %v; want counts %+v", details, err, tc.counts)
			}
		})
	}
}

func TestCheckVulnerabilitiesOverHTTP(t *testing.T) {
	data, err := os.ReadFile(report(t, "grype.sarif"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/scans/grype.sarif":
			_, _ = w.Write(data)
		case "/scans/pending.sarif":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	res, err := checkVulns(t, CheckVulnerabilitiesInput{Report: srv.URL + "/scans/grype.sarif", Max: map[string]int{"critical": 2}})
	if err != nil || res.Format != vuln.FormatSARIF || res.Counts.Critical != 2 {
		t.Fatalf("grype over http: %+v, %v", res, err)
	}
	_, err = checkVulns(t, CheckVulnerabilitiesInput{Report: srv.URL + "/scans/pending.sarif"})
	appErr(t, err, ErrTypeRead, false)
	_, err = checkVulns(t, CheckVulnerabilitiesInput{Report: srv.URL + "/scans/none.sarif"})
	appErr(t, err, ErrTypeNotFound, true)
}

// A report with more findings than a result may carry keeps the most severe.
func TestCheckVulnerabilitiesTruncatesFindings(t *testing.T) {
	var results []string
	for i := range MaxReportedFindings + 50 {
		level := "warning"
		if i%10 == 0 {
			level = "error"
		}
		results = append(results, fmt.Sprintf(`{"ruleId": "R%03d", "level": %q}`, i, level))
	}
	path := filepath.Join(t.TempDir(), "lint.sarif")
	doc := `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [` + strings.Join(results, ",") + `]}]}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := checkVulns(t, CheckVulnerabilitiesInput{Report: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != MaxReportedFindings || res.Omitted != 50 || res.Counts.High != 15 || res.Findings[14].Severity != vuln.High || res.Findings[15].Severity != vuln.Medium {
		t.Errorf("kept %d findings, omitted %d, counts %+v", len(res.Findings), res.Omitted, res.Counts)
	}
}

// The result travels as the failure's details through Temporal's converter.
func TestCheckVulnerabilitiesInActivityEnvironment(t *testing.T) {
	a := &Activities{}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.CheckVulnerabilities, CheckVulnerabilitiesInput{
		Report: report(t, "osv-scanner.json"), Max: map[string]int{"critical": 0, "high": 0},
	})
	ae := appErr(t, err, ErrTypeVulnerable, true)
	var res CheckVulnerabilitiesResult
	if err := ae.Details(&res); err != nil {
		t.Fatal(err)
	}
	if res.Counts.Critical != 1 || res.Counts.High != 3 || len(res.Findings) != 7 || res.Findings[0].ID != "GHSA-xvch-5gv4-984h" {
		t.Errorf("details = %+v", res)
	}
}
