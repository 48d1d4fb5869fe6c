package test

// Canaries judged through the envoy and nginx-ingress presets: the real
// edge proxy routes the slots, a translating exporter serves its counters
// as Envoy's /stats/prometheus or ingress-nginx's /metrics (the metric
// names, labels and buckets of their documentation, see
// internal/testenv/exporters), a real Prometheus scrapes it and the
// preset's queries judge the canary. Neither proxy runs here (no package,
// no internet), so the exporters stand in for their output, not their
// routing.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/testenv/exporters"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

// presetWindow is the SLOs' window: Prometheus's rate() wants a few
// scrapes in its range.
const presetWindow = 4 * time.Second

// presetCanary is a short canary: five weights of one round each.
var presetCanary = []int{10, 25, 50, 75, 100}

// presetRig is a slotted service whose metrics come from kind's exporter
// through Prometheus, read with preset.
type presetRig struct {
	*slotted
	prom *prom.Server
}

// newPresetRig starts the edge proxy, the exporter translating its
// metrics, Prometheus scraping the exporter, and a worker; it waits for
// series (ingress-nginx has none before a request: it waits for the
// scrape).
func newPresetRig(t *testing.T, name string, kind exporters.Kind, preset, series string) *presetRig {
	r := newRig(t, name)
	p := &presetRig{}
	p.slotted = newSlottedShape(t, r, func(admin string) string {
		exp := exporters.Start(t, kind, admin+"/metrics")
		p.prom = prom.Start(t, exp.Addr)
		return "      provider: prometheus\n      preset: " + preset + "\n      options:\n        url: " + p.prom.URL
	}, canaryShape{window: presetWindow, weights: presetCanary,
		// A round as long as the window: the first round at 10% must see
		// the 10 requests a verdict needs although ingress-nginx's series for
		// the canary is born at the shift (its first scrape adds nothing to
		// increase()); with 2 s rounds a slow CI saw 8.9.
		interval: presetWindow, bake: presetWindow})
	p.prom.WaitForData(t, series, time.Minute)
	return p
}

// TestCanaryThroughEnvoyPreset: with `preset: envoy` a healthy canary
// passes every round on measured values while Envoy has no 5xx series
// yet for the target cluster, and a canary that starts answering 500s is
// rolled back on its error ratio.
func TestCanaryThroughEnvoyPreset(t *testing.T) {
	t.Parallel()
	p := newPresetRig(t, "canary-envoy", exporters.Envoy, "envoy", `envoy_cluster_upstream_rq_total{envoy_cluster_name="green"}`)
	p.startLoad(t)
	if st := p.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install through the envoy preset: %s (%s)", st.State, st.Reason)
	}
	st := p.release("2.0.0")
	if st.State != workflows.StateSucceeded {
		t.Fatalf("healthy canary 2.0.0 through the envoy preset: %s (%s)", st.State, st.Reason)
	}
	requirePassingRounds(t, env(t, st, "production").Traffic, len(presetCanary))
	if n := p.series(t, `envoy_cluster_upstream_rq_xx{envoy_cluster_name="blue",envoy_response_code_class="5"}`); n != 0 {
		t.Errorf("envoy has %d 5xx series for blue after a healthy canary, want none: the pass must not rest on one", n)
	}

	id := p.r.deploy(p.path, p.digest, "3.0.0", requester)
	p.r.waitFor(id, "canary 3.0.0 at weight 2", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 2
	})
	p.fault("green", 1)
	st = p.r.waitFor(id, "3.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 3.0.0 is %s (%s), want rolled-back after an SLO breach seen through the envoy preset", st.State, st.Reason)
	}
	tr := env(t, st, "production").Traffic
	if tr == nil || tr.Decisive == nil {
		t.Fatalf("rolled-back canary without a decisive round: %+v", tr)
	}
	errs := measurement(tr.Decisive, "errors")
	if errs == nil || errs.Verdict != metrics.Fail || !(float64(errs.Value) > 0.05) {
		t.Errorf("decisive round %+v: want the errors check failing above 0.05", tr.Decisive)
	}
	if w := p.weights(); w["blue"] != 100 || w["green"] != 0 {
		t.Errorf("after the breach the proxy has %v, want blue 100 green 0", w)
	}
}

// TestCanaryThroughNginxIngressPreset: with `preset: nginx-ingress` a
// healthy canary passes every round on measured values, its error ratio a
// measured 0 although ingress-nginx has no 5xx series for the Service.
func TestCanaryThroughNginxIngressPreset(t *testing.T) {
	t.Parallel()
	p := newPresetRig(t, "canary-nginx", exporters.IngressNginx, "nginx-ingress", `up{job="`+prom.Job+`"} == 1`)
	p.startLoad(t)
	if st := p.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install through the nginx-ingress preset: %s (%s)", st.State, st.Reason)
	}
	st := p.release("2.0.0")
	if st.State != workflows.StateSucceeded {
		t.Fatalf("healthy canary 2.0.0 through the nginx-ingress preset: %s (%s)", st.State, st.Reason)
	}
	tr := env(t, st, "production").Traffic
	requirePassingRounds(t, tr, len(presetCanary))
	if n := p.series(t, `nginx_ingress_controller_requests{service="blue",status=~"5.."}`); n != 0 {
		t.Fatalf("ingress-nginx has %d 5xx series for blue, want none: the absent series is what this checks", n)
	}
	for _, round := range tr.Rounds {
		if m := measurement(&round, "errors"); m == nil || float64(m.Value) != 0 {
			t.Errorf("round %d: errors %+v, want a measured 0 from the absent 5xx series", round.Round, m)
		}
	}
}

// requirePassingRounds checks that a finished canary had at least min
// analysis rounds, each passing both SLOs on values over enough requests.
func requirePassingRounds(t *testing.T, tr *workflows.TrafficStatus, minRounds int) {
	t.Helper()
	if tr == nil || len(tr.Rounds) < minRounds {
		t.Fatalf("traffic status %+v: want %d analysis rounds at least", tr, minRounds)
	}
	for _, round := range tr.Rounds {
		if round.Verdict != metrics.Pass || len(round.Measurements) != 2 {
			t.Errorf("round %d: %s with %d measurements, want pass with 2", round.Round, round.Verdict, len(round.Measurements))
		}
		for _, m := range round.Measurements {
			v := float64(m.Value)
			if m.Verdict != metrics.Pass || math.IsNaN(v) || m.Count == nil || float64(*m.Count) < 10 {
				t.Errorf("round %d %s: %s value %g count %v (%s), want a pass on a value over 10 requests or more",
					round.Round, m.Check, m.Verdict, v, m.Count, m.Detail)
			}
		}
	}
	last := tr.Rounds[len(tr.Rounds)-1]
	t.Logf("last round: errors %g, p99 %g s", float64(measurement(&last, "errors").Value), float64(measurement(&last, "p99").Value))
}

// measurement is the round's measurement of check, nil without one.
func measurement(round *metrics.MeasureResult, check string) *metrics.Measurement {
	for i := range round.Measurements {
		if round.Measurements[i].Check == check {
			return &round.Measurements[i]
		}
	}
	return nil
}

// series counts the series an instant query returns from Prometheus.
func (p *presetRig) series(t *testing.T, query string) int {
	t.Helper()
	return promSeries(t, p.prom, query)
}

func promSeries(t *testing.T, srv *prom.Server, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/query?query="+url.QueryEscape(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %q: %v (status %q)", query, err, r.Status)
	}
	return len(r.Data.Result)
}

// TestSLOCheckThroughEnvoyPreset: `runbook slo check` on a runbook whose
// metrics are `preset: envoy`, against the edge proxy under load seen
// through the translated Envoy exposition and a real Prometheus: exit 0,
// both slots' SLOs passing on values from the preset.
func TestSLOCheckThroughEnvoyPreset(t *testing.T) {
	t.Parallel()
	edge := startSLOEdge(t)
	exp := exporters.Start(t, exporters.Envoy, "http://"+edge.AdminAddr()+"/metrics")
	promSrv := prom.Start(t, exp.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	load, err := loadgen.Start(ctx, loadgen.Options{URL: "http://" + edge.ProxyAddr() + "/", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); t.Logf("load: %s", load.Stop()) })
	for _, slot := range []string{"blue", "green"} {
		promSrv.WaitForData(t, `sum(increase(envoy_cluster_upstream_rq_total{envoy_cluster_name="`+slot+`"}[4s])) > 50`, time.Minute)
	}
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	text := fmt.Sprintf(sloCheckRunbook, "http://"+edge.AdminAddr(), "        blue: {}\n        green: {}", promSrv.URL, "      preset: envoy")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, cleanEnviron(), "", "slo", "check", path, "--env", "production", "-o", "json")
	rep := decodeSLOReport(t, res)
	if res.code != 0 || !rep.OK || len(rep.Results) != 4 {
		t.Fatalf("slo check through the envoy preset: want exit 0 with 4 results, got %s", res)
	}
	slots := map[string]int{}
	for _, r := range rep.Results {
		slots[r.Slot]++
		if r.Verdict != "pass" || r.Value == nil || r.Count == nil || *r.Count < 10 || r.From != "preset envoy" {
			t.Errorf("%s on %s: %+v, want a pass with a value and a count of 10 or more from the envoy preset", r.SLO, r.Slot, r)
		}
	}
	if slots["blue"] != 2 || slots["green"] != 2 {
		t.Errorf("results by slot %v, want both SLOs on blue and on green", slots)
	}
	t.Logf("slo check through the envoy preset: %s", rep.Summary)
}

// TestSLOCheckNginxCanaryWeight: ingress-nginx labels the requests of a
// canary-weight Ingress with the main Ingress's Service and the canary's
// upstream in canary. Blue is the main Service, green the canary, each
// with half the load: the nginx-ingress preset reads canary as well, so
// each slot sees its own half and passes.
func TestSLOCheckNginxCanaryWeight(t *testing.T) {
	t.Parallel()
	edge := startSLOEdge(t)
	labels := exporters.DefaultNginxLabels
	labels.Primary, labels.Port = "blue", "80"
	exp := exporters.Serve(t, exporters.NginxHandler("http://"+edge.AdminAddr()+"/metrics", labels))
	promSrv := prom.Start(t, exp.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	load, err := loadgen.Start(ctx, loadgen.Options{URL: "http://" + edge.ProxyAddr() + "/", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); t.Logf("load: %s", load.Stop()) })
	for _, sel := range []string{`service="blue",canary=""`, `canary="default-green-80"`} {
		promSrv.WaitForData(t, `sum(increase(nginx_ingress_controller_requests{`+sel+`}[4s])) > 50`, time.Minute)
	}
	dir := t.TempDir()
	check := func(name, metrics string) (result, sloCheckReport) {
		path := filepath.Join(dir, name)
		text := fmt.Sprintf(sloCheckRunbook, "http://"+edge.AdminAddr(), "        blue: {}\n        green: {}", promSrv.URL, metrics)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		res := runCLI(t, cleanEnviron(), "", "slo", "check", path, "--env", "production", "-o", "json")
		return res, decodeSLOReport(t, res)
	}

	res, rep := check("preset.yaml", "      preset: nginx-ingress")
	if res.code != 0 || !rep.OK || len(rep.Results) != 4 {
		t.Fatalf("slo check with the nginx-ingress preset under canary-weight: want exit 0 with 4 results, got %s", res)
	}
	counts := map[string]float64{}
	for _, r := range rep.Results {
		if r.Verdict != "pass" || r.Value == nil || r.Count == nil || *r.Count < 10 {
			t.Errorf("%s on %s: %+v, want a pass with a value over 10 requests or more", r.SLO, r.Slot, r)
			continue
		}
		counts[r.Slot] = *r.Count
	}
	// Equal weights: each slot's count is about half of both, not all.
	if sum := counts["blue"] + counts["green"]; counts["blue"] > 0.75*sum || counts["green"] > 0.75*sum {
		t.Errorf("requests by slot %v, want each slot near half: the canary's requests are told apart", counts)
	}
}
