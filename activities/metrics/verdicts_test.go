package metrics

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/internal/telemetry"
)

// TestMeasureCountsVerdicts: each check's verdict is counted by check and
// verdict on the worker's metrics handler.
func TestMeasureCountsVerdicts(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	reg := telemetry.New()
	ts.SetMetricsHandler(reg.Handler())
	env := ts.NewTestActivityEnvironment()
	a := &Activities{Providers: map[string]Provider{"p": fake{
		"low":  {s: Sample{Value: 0.5}},
		"high": {s: Sample{Value: 5}},
	}}}
	env.RegisterActivity(a)
	for range 2 {
		if _, err := env.ExecuteActivity(a.Measure, MeasureInput{Round: 1, Checks: []Check{
			{Name: "errors", Kind: KindQuery, Provider: "p", Query: Query{Expr: "low"}, Max: 1},
			{Name: "latency", Kind: KindQuery, Provider: "p", Query: Query{Expr: "high"}, Max: 1},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`check="errors"`, `check="latency"`} {
		verdict := map[string]string{`check="errors"`: `verdict="pass"`, `check="latency"`: `verdict="fail"`}[want]
		found := false
		for _, line := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(line, telemetry.AnalysisVerdicts+"{") && strings.Contains(line, want) && strings.Contains(line, verdict) && strings.HasSuffix(line, " 2") {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s %s counted twice in:\n%s", want, verdict, b.String())
		}
	}
}
