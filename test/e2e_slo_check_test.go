package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/testenv/prom"
)

// sloCheckRunbook routes production through the edge proxy (slots X.Slots)
// and reads the SLOs from Prometheus, with the templates in X.Templates
// (none: the edge-prometheus preset's).
const sloCheckRunbook = `api-version: runbook/v1
service: shop
owner: team-e2e
artifact:
  reference: ./app.bin
environments:
  - name: production
    traffic:
      provider: edge
      options:
        admin: %s
      slots:
%s
    metrics:
      provider: prometheus
      options:
        url: %s
%s
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
          analysis-interval: 4s
          steps:
            - weight: 100
`

// typoTemplates misspell the metric of the error-ratio template.
const typoTemplates = `      templates:
        error-ratio:
          bad: sum(rate(edge_requestz_total{backend="${slot}",code_class="5xx"}[${window}]))
          total: sum(rate(edge_requestz_total{backend="${slot}"}[${window}]))
          count: sum(increase(edge_requestz_total{backend="${slot}"}[${window}]))`

// sloCheckReport is the part of `runbook slo check -o json` the test reads.
type sloCheckReport struct {
	OK      bool   `json:"ok"`
	Summary string `json:"summary"`
	Results []struct {
		Slot, SLO, Verdict, Why, Template string
		From                              string   `json:"template-from"`
		Value                             *float64 `json:"value"`
		Count                             *float64 `json:"count"`
	} `json:"results"`
}

// TestSLOCheckCLI: `runbook slo check` as a person runs it before a
// canary, against the real edge proxy under load scraped by a real
// Prometheus: data on both slots (exit 0); a misspelt metric in a
// template (exit 1, "no data"); a slot without traffic (exit 1, too few
// requests). No Temporal is involved.
func TestSLOCheckCLI(t *testing.T) {
	t.Parallel()
	edge := startSLOEdge(t)
	admin := "http://" + edge.AdminAddr()
	promSrv := prom.Start(t, edge.AdminAddr())
	ctx, cancel := context.WithCancel(context.Background())
	load, err := loadgen.Start(ctx, loadgen.Options{URL: "http://" + edge.ProxyAddr() + "/", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); t.Logf("load: %s", load.Stop()) })
	// The window's count must be past the preset's 10 requests on both
	// slots before the check can say anything; wait for it, not a while.
	for _, slot := range []string{"blue", "green"} {
		promSrv.WaitForData(t, `sum(increase(edge_requests_total{backend="`+slot+`"}[4s])) > 50`, time.Minute)
	}
	dir := t.TempDir()
	write := func(name, slots, templates string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(fmt.Sprintf(sloCheckRunbook, admin, slots, promSrv.URL, templates)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	env := cleanEnviron()
	const blueGreen = "        blue: {}\n        green: {}"

	good := write("good.yaml", blueGreen, "")
	res := runCLI(t, env, "", "slo", "check", good, "--env", "production", "-o", "json")
	rep := decodeSLOReport(t, res)
	if res.code != 0 || !rep.OK || len(rep.Results) != 4 {
		t.Fatalf("slo check under load: want exit 0 with 4 results, got %s", res)
	}
	for _, r := range rep.Results {
		if r.Verdict != "pass" || r.Value == nil || r.Count == nil || *r.Count < 10 || r.From != "preset edge-prometheus" {
			t.Errorf("%s on %s: %+v, want a pass with a value and a count of 10 or more from the preset", r.SLO, r.Slot, r)
		}
	}

	typo := write("typo.yaml", blueGreen, typoTemplates)
	res = runCLI(t, env, "", "slo", "check", typo, "--env", "production", "--slot", "green")
	t.Logf("misspelt metric, as a person sees it:\n%s", res.stdout)
	if res.code != 1 || !strings.Contains(res.stdout, "inconclusive: no data") ||
		!strings.Contains(res.stdout, "1 of 2 SLO checks returned no data: errors on slot green") {
		t.Errorf("misspelt metric: want exit 1 naming errors and no data, got %s", res)
	}

	idle := write("idle.yaml", "        blue: {}\n        idle: {}", "")
	res = runCLI(t, env, "", "slo", "check", idle, "--env", "production", "--slot", "idle", "-o", "json")
	rep = decodeSLOReport(t, res)
	if res.code != 1 || rep.OK || len(rep.Results) != 2 {
		t.Fatalf("slot without traffic: want exit 1 with 2 results, got %s", res)
	}
	for _, r := range rep.Results {
		if r.Slot != "idle" || r.Verdict != "inconclusive" || r.Why != "too few requests" || r.Count == nil || *r.Count != 0 {
			t.Errorf("%s on %s: %+v, want inconclusive over a count of 0", r.SLO, r.Slot, r)
		}
	}
}

func decodeSLOReport(t *testing.T, res result) sloCheckReport {
	t.Helper()
	var rep sloCheckReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("slo check -o json: %v: %s", err, res)
	}
	return rep
}

// startSLOEdge runs the real edge proxy with blue and green at 50 and idle
// at 0, each a plain local server.
func startSLOEdge(t testing.TB) *edgeproxy.Server {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	weights := map[string]int{"blue": 50, "green": 50, "idle": 0}
	var specs []edgeproxy.BackendSpec
	for _, name := range []string{"blue", "green", "idle"} {
		srv := httptest.NewServer(ok)
		t.Cleanup(srv.Close)
		specs = append(specs, edgeproxy.BackendSpec{Name: name, URL: srv.URL, Weight: weights[name]})
	}
	srv, err := edgeproxy.New(edgeproxy.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: randomToken(t),
		StateFile: filepath.Join(t.TempDir(), "edge.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed(specs); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}
