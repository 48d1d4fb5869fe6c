package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/metrics"
)

// sloRunbook has one environment with SLOs on two slots, measured by the
// runbook's own error-ratio template and the edge-prometheus preset's
// latency.
const sloRunbook = `api-version: runbook/v1
service: shop
owner: team-slo
artifact:
  reference: ./app-${version}.bin
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:1/healthz
  - name: production
    traffic:
      provider: edge
      options:
        admin: http://127.0.0.1:1
      slots:
        blue: {}
        green: {}
    metrics:
      provider: prometheus
      options:
        url: http://127.0.0.1:1
      templates:
        error-ratio:
          bad: sum(rate(reqs{slot="${slot}",code="5xx"}[${window}]))
          total: sum(rate(reqs{slot="${slot}"}[${window}]))
    slos:
      - name: errors
        error-ratio: 0.05
      - name: p99
        latency:
          percentile: 99
          max: 1s
    steps:
      - name: shift
        canary:
          analysis-interval: 30s
          steps:
            - weight: 100
`

func writeSLORunbook(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "runbook.yaml")
	if err := os.WriteFile(path, []byte(sloRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSLOCheckUsage: what cannot be checked as asked ends with exit 2 and
// says why, naming what there is.
func TestSLOCheckUsage(t *testing.T) {
	path := writeSLORunbook(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"slo", "check", path}, "--env"},
		{[]string{"slo", "check", path, "--env", "prod"}, `no environment "prod" in the runbook; it has: staging, production`},
		{[]string{"slo", "check", path, "--env", "staging"}, `"staging" has no slos`},
		{[]string{"slo", "check", path, "--env", "production", "--slot", "red"}, `no slot "red" in traffic.slots of "production"; it has: blue, green`},
		{[]string{"slo", "check", path, "--env", "production", "--window", "soon"}, "--window"},
		{[]string{"slo", "check", "--env", "production"}, "name one runbook file"},
		{[]string{"slo", "check", filepath.Join(t.TempDir(), "none.yaml"), "--env", "production"}, "none.yaml"},
	} {
		_, _, err := run(t, c.args...)
		exit := asExit(t, err)
		if exit.code != sloExitUsage || !strings.Contains(exit.msg, c.want) {
			t.Errorf("%v: exit %d %q, want %d saying %q", c.args[2:], exit.code, exit.msg, sloExitUsage, c.want)
		}
	}
}

// TestSLOCheckUnreachableProvider: a provider that does not answer is an
// error of each SLO on each slot (exit 1), with the template each read
// and where it came from.
func TestSLOCheckUnreachableProvider(t *testing.T) {
	path := writeSLORunbook(t)
	out, _, err := run(t, "slo", "check", path, "--env", "production", "-o", "json")
	if exit := asExit(t, err); exit.code != sloExitNoData {
		t.Fatalf("exit %d, want %d", exit.code, sloExitNoData)
	}
	var rep sloReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.OK || len(rep.Results) != 4 || rep.Window != "30s" || rep.Version != "check" {
		t.Fatalf("report %+v, want 4 results not ok over the canary's 30s", rep)
	}
	want := map[string]string{"errors": "runbook", "p99": "preset edge-prometheus"}
	for _, r := range rep.Results {
		if r.Verdict != verdictError || r.TemplateFrom != want[r.SLO] || !strings.Contains(r.Detail, "127.0.0.1:1") {
			t.Errorf("%s on %s: %+v, want an error from the provider and the template from %s", r.SLO, r.Slot, r, want[r.SLO])
		}
	}
	if q := rep.Results[2].Queries; rep.Results[2].Slot != "green" || len(q) == 0 || !strings.Contains(q[0].Expr, `slot="green"`) {
		t.Errorf("third result's queries %+v, want green's expanded", q)
	}
}

// sampleReport has one result of every kind of answer.
func sampleReport() sloReport {
	n := func(f float64) *metrics.Number { v := metrics.Number(f); return &v }
	nan := metrics.Number(math.NaN())
	q := []sloQuery{{Role: "total", Expr: `sum(rate(reqs{slot="green"}[${window}]))`, Window: "1m0s"}}
	rep := sloReport{Service: "shop", Environment: "production", Provider: "prometheus", Version: "check", Window: "1m0s",
		Results: []sloResult{
			{Slot: "blue", SLO: "errors", Kind: "error-ratio", Template: "error-ratio", TemplateFrom: "file platform.yaml", Value: 0.001, Baseline: nan, Count: n(600), Limit: 0.05, Verdict: "pass", Detail: "0.001 <= 0.05"},
			{Slot: "blue", SLO: "cpu", Kind: "query", Value: 0.9, Baseline: nan, Limit: 0.8, Verdict: "fail", Detail: "0.9 > 0.8"},
			{Slot: "green", SLO: "errors", Kind: "error-ratio", Template: "error-ratio", TemplateFrom: "runbook", Value: nan, Baseline: nan, Count: n(0), Verdict: "inconclusive", Why: "too few requests", Detail: "0 requests in the window, fewer than the 10 a verdict needs", Queries: q},
			{Slot: "green", SLO: "cpu", Kind: "query", Value: nan, Baseline: nan, Verdict: "error", Detail: "HTTP 400: bad_data"},
		}}
	rep.summarize()
	return rep
}

func TestSLOReportText(t *testing.T) {
	rep := sampleReport()
	var b strings.Builder
	if err := rep.text(&b, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"shop production: 2 SLO(s) via prometheus, window 1m0s, ${version}=check",
		"slot blue:", "slot green:",
		"error-ratio (file platform.yaml)", "(inline query)", "600",
		"inconclusive: too few requests",
		"warning: slot blue would fail cpu now (0.9 > 0.8)",
		"2 of 4 SLO checks returned no data: errors on slot green, cpu on slot green",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sum(rate(") {
		t.Errorf("queries shown without --show-queries:\n%s", out)
	}
	b.Reset()
	if err := rep.text(&b, true); err != nil {
		t.Fatal(err)
	}
	if want := `errors total (window 1m0s): sum(rate(reqs{slot="green"}[${window}]))`; !strings.Contains(b.String(), want) {
		t.Errorf("--show-queries lacks %q:\n%s", want, b.String())
	}
}

func TestSLOReportSummary(t *testing.T) {
	rep := sampleReport()
	if rep.OK {
		t.Error("a report with an inconclusive and an error result is OK")
	}
	rep.Results = rep.Results[:2]
	rep.summarize()
	if !rep.OK || rep.Summary != "all 2 SLO checks returned data; 1 would fail now: cpu on slot blue" {
		t.Errorf("pass and fail: ok %v, %q", rep.OK, rep.Summary)
	}
	rep.Results = rep.Results[:1]
	rep.summarize()
	if !rep.OK || rep.Summary != "all 1 SLO checks returned data and pass now" {
		t.Errorf("pass: ok %v, %q", rep.OK, rep.Summary)
	}
}

// TestSLOReportJSON: kebab-case keys, no value as null, a count only
// where the template has one.
func TestSLOReportJSON(t *testing.T) {
	b, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{`"template-from":"file platform.yaml"`, `"count":600`, `"value":null`, `"why":"too few requests"`, `"ok":false`} {
		if !strings.Contains(out, want) {
			t.Errorf("JSON lacks %s: %s", want, out)
		}
	}
	if got := strings.Count(out, `"count":`); got != 2 {
		t.Errorf("%d count keys, want 2: %s", got, out)
	}
}
