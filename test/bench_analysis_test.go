package test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/metrics/prometheus"
	"github.com/runbookhq/runbook/internal/loadgen"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// countingProvider counts the queries a round sends.
type countingProvider struct {
	metrics.Provider
	n atomic.Int64
}

func (c *countingProvider) Query(ctx context.Context, q metrics.Query) (metrics.Sample, error) {
	c.n.Add(1)
	return c.Provider.Query(ctx, q)
}

// tenSLOs are five error ratios and five latency percentiles, read through
// the edge-prometheus preset's templates.
func tenSLOs() []runbooks.SLO {
	var out []runbooks.SLO
	for i := range 5 {
		r := 0.05 + float64(i)/100
		out = append(out, runbooks.SLO{Name: "errors-" + strconv.Itoa(i), ErrorRatio: &r},
			runbooks.SLO{Name: "latency-" + strconv.Itoa(i), Latency: &runbooks.Latency{Percentile: 90 + float64(i), Max: runbooks.Duration(time.Second)}})
	}
	return out
}

// BenchmarkAnalysisRound measures one analysis round of ten SLOs (each an
// error ratio or a latency percentile with its request count, as the
// preset's templates give them) against a real Prometheus scraping the edge
// proxy under load, beside its floor in the same run: the same number of
// bare instant queries (vector(1)) through the same provider.
func BenchmarkAnalysisRound(b *testing.B) {
	edge := startSLOEdge(b)
	promSrv := prom.Start(b, edge.AdminAddr())
	ctx, cancel := context.WithCancel(context.Background())
	load, err := loadgen.Start(ctx, loadgen.Options{URL: "http://" + edge.ProxyAddr() + "/", Rate: 100})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); load.Stop() }()
	promSrv.WaitForData(b, `sum(increase(edge_requests_total{backend="green"}[10s])) > 50`, time.Minute)

	env := runbooks.Environment{Name: "production",
		Traffic: &runbooks.Traffic{Provider: "edge", Slots: map[string]map[string]string{"blue": nil, "green": nil}},
		Metrics: &runbooks.Metrics{Provider: "prometheus"},
		SLOs:    tenSLOs(),
	}
	env.Metrics.Templates = runbooks.PresetTemplates(&env)
	checks := workflows.SLOChecks(&env, "green", "blue", workflows.SLOVars("shop", "1.0.0", "", &env, "green", "blue"), 10*time.Second)
	p, err := prometheus.New(map[string]string{"url": promSrv.URL})
	if err != nil {
		b.Fatal(err)
	}
	counting := &countingProvider{Provider: p}
	a := &metrics.Activities{Providers: map[string]metrics.Provider{"prometheus": counting}}
	in := metrics.MeasureInput{Checks: checks}

	res, err := a.Measure(ctx, in)
	if err != nil || res.Verdict != metrics.Pass || len(res.Measurements) != 10 {
		b.Fatalf("warm-up round: %v %+v, want ten passing measurements", err, res)
	}
	perRound := counting.n.Load()

	var rounds time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		if _, err := a.Measure(ctx, in); err != nil {
			b.Fatal(err)
		}
		rounds += time.Since(start)
		n++
	}
	b.StopTimer()

	floorStart := time.Now()
	for range perRound {
		if _, err := p.Query(ctx, metrics.Query{Expr: "vector(1)"}); err != nil {
			b.Fatal(err)
		}
	}
	floor := time.Since(floorStart)
	round := rounds / time.Duration(n)
	fmt.Printf("bench: analysis-round-10-slos %.2f ms\n", ms(round))
	fmt.Printf("bench: analysis-queries-per-round %d queries\n", perRound)
	fmt.Printf("bench: analysis-floor-bare-queries %.2f ms\n", ms(floor))
	fmt.Printf("bench: analysis-round-over-floor %.2f ratio\n", ms(round)/ms(floor))
	b.ReportMetric(ms(round), "ms/round")
}
