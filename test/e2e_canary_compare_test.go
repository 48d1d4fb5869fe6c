package test

// A canary judged by one Mann-Whitney compare SLO read from a real
// Prometheus scraping the edge proxy: each side's observations are a range
// query of the edge's latency histogram for that side's slot.

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/metrics/prometheus"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

// compareLatency is the per-slot series the compare SLO samples every
// second: the edge's median latency over a 2 s rate window (eight scrapes).
// Mann-Whitney has no effect size of its own: the median's interpolation
// inside the 0-5 ms bucket (0.0025 against 0.00256) is significant on a
// busy machine, so the SLO's min-difference (10 ms) says which difference
// matters.
const compareLatency = `histogram_quantile(0.5, sum by (le) (rate(edge_request_duration_seconds_bucket{backend="${slot}"}[2s])))`

// compareWindow is the compare SLO's window: a bake judges it from half of
// it on, five one-second points per side.
const compareWindow = 10 * time.Second

// compareSLOs is the one SLO of TestCanaryCompareWithPrometheus.
var compareSLOs = fmt.Sprintf(`      - name: vs-live
        window: %s
        template: p-latency
        compare:
          min-samples: 5
          min-difference: 0.01
          step: 1s`, compareWindow)

// TestCanaryCompareWithPrometheus: a healthy canary passes the compare
// against the live slot; one whose slot answers 60 ms slower fails it and
// is rolled back, the decisive round holding both sides' samples.
func TestCanaryCompareWithPrometheus(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-compare")
	var promSrv *prom.Server
	s := newSlottedShape(t, r, func(admin string) string {
		u, _ := url.Parse(admin)
		promSrv = prom.Start(t, u.Host)
		return "      provider: prometheus\n      options:\n        url: " + promSrv.URL +
			"\n      templates:\n        p-latency:\n          value: '" + compareLatency + "'"
	}, canaryShape{weights: []int{50}, bake: compareWindow, slos: compareSLOs})
	promSrv.WaitForData(t, `edge_requests_total{backend="green"}`, time.Minute)
	s.startLoad(t)

	// A first install has no live side to compare with: its weight bakes
	// without the compare, and says so.
	first := s.release("1.0.0")
	if first.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", first.State, first.Reason)
	}
	if rs := env(t, first, "production").Traffic.Rounds; len(rs) == 0 || !strings.Contains(rs[0].Detail, "not compared, the live slot serves no traffic") {
		t.Errorf("first install's rounds %+v, want them to say the compare was left out", rs)
	}

	st := s.release("2.0.0")
	if st.State != workflows.StateSucceeded {
		if d := env(t, st, "production").Traffic.Decisive; d != nil && len(d.Measurements) > 0 {
			t.Logf("decisive: canary %v, baseline %v", d.Measurements[0].CanarySamples, d.Measurements[0].BaselineSamples)
		}
		t.Fatalf("healthy canary with a compare SLO: %s (%s)", st.State, st.Reason)
	}
	passed := compareRounds(t, env(t, st, "production"), metrics.Pass)
	t.Logf("healthy canary: %d passing compare rounds, e.g. %s", len(passed), passed[len(passed)-1].Detail)

	id := r.deploy(s.path, s.digest, "3.0.0", requester)
	st = r.waitFor(id, "3.0.0 baking", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 1
	})
	target := env(t, st, "production").Traffic.Target
	s.delay(target, 60*time.Millisecond)
	st = r.waitFor(id, "3.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 3.0.0 with %s 60 ms slower is %s (%s), want rolled back after the compare failed", target, st.State, st.Reason)
	}
	checkDecisiveCompare(t, env(t, st, "production"))
	logCompareCost(t, promSrv.URL, target, env(t, st, "production").Traffic.Live)
}

// compareRounds returns the vs-live measurements of e's rounds with verdict
// v, failing the test when there are none or one lacks a p-value.
func compareRounds(t *testing.T, e workflows.EnvironmentStatus, v metrics.Verdict) []metrics.Measurement {
	t.Helper()
	var out []metrics.Measurement
	for _, r := range e.Traffic.Rounds {
		for _, m := range r.Measurements {
			if m.Check == "vs-live" && m.Verdict == v {
				if p := float64(m.PValue); math.IsNaN(p) || p > 1 || !strings.Contains(m.Detail, "Mann-Whitney") {
					t.Errorf("round %d: vs-live %s without a p-value: %+v", r.Round, v, m)
				}
				out = append(out, m)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no vs-live round is %s; rounds: %+v", v, e.Traffic.Rounds)
	}
	return out
}

// checkDecisiveCompare asserts that the decisive round failed the compare
// on samples of both sides, the canary's median above the baseline's.
func checkDecisiveCompare(t *testing.T, e workflows.EnvironmentStatus) {
	t.Helper()
	d := e.Traffic.Decisive
	if d == nil || d.Verdict != metrics.Fail || len(d.Measurements) != 1 {
		t.Fatalf("decisive round: %+v, want one failing vs-live measurement", d)
	}
	m := d.Measurements[0]
	t.Logf("decisive round %d: %s; canary %v, baseline %v", d.Round, m.Detail, m.CanarySamples, m.BaselineSamples)
	if len(m.CanarySamples) < 5 || len(m.BaselineSamples) < 5 {
		t.Errorf("decisive compare on %d canary and %d baseline samples, want at least 5 each", len(m.CanarySamples), len(m.BaselineSamples))
	}
	if !(float64(m.Value) > float64(m.Baseline)) || !(float64(m.PValue) < m.Limit) {
		t.Errorf("decisive compare: canary median %v, baseline %v, p %v (alpha %v); want the canary worse, p below alpha", m.Value, m.Baseline, m.PValue, m.Limit)
	}
}

// logCompareCost measures what one tick of the bake costs the worker: a
// compare check's two range queries, through the Measure activity.
func logCompareCost(t *testing.T, promURL, canary, baseline string) {
	t.Helper()
	p, err := prometheus.New(map[string]string{"url": promURL})
	if err != nil {
		t.Fatal(err)
	}
	side := func(slot string) metrics.Query {
		return metrics.Query{Expr: strings.ReplaceAll(compareLatency, "${slot}", slot), Window: compareWindow, Step: time.Second}
	}
	acts := &metrics.Activities{Providers: map[string]metrics.Provider{"p": p}}
	in := metrics.MeasureInput{Checks: []metrics.Check{{Name: "vs-live", Kind: metrics.KindCompare, Provider: "p",
		Query: side(canary), Baseline: side(baseline), MinSamples: 5}}}
	const n = 20
	start := time.Now()
	for range n {
		if _, err := acts.Measure(context.Background(), in); err != nil {
			t.Fatalf("measure: %v", err)
		}
	}
	t.Logf("a range-query compare round (2 queries, %s at 1s) takes %s on average", compareWindow, time.Since(start)/n)
}

// delay makes the app in slot wait d before answering each request.
func (s *slotted) delay(slot string, d time.Duration) {
	s.r.t.Helper()
	u := fmt.Sprintf("http://127.0.0.1:%d/fault", s.ports[slot])
	resp, err := http.PostForm(u, url.Values{"delay": {d.String()}})
	if err != nil {
		s.r.t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.r.t.Fatalf("POST %s: HTTP %d", u, resp.StatusCode)
	}
}
