package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/runbooks"
)

// TestFlagSLOChecksCompareVariants: a flag step's SLOs whose templates
// carry ${variant} measure the subjects with the feature, and a compare
// SLO takes those without it, on the same slot, as its baseline.
func TestFlagSLOChecksCompareVariants(t *testing.T) {
	max := 0.5
	env := &runbooks.Environment{
		Metrics: &runbooks.Metrics{Provider: "prometheus", Templates: map[string]runbooks.MetricTemplate{
			"error-ratio":        {Bad: `sum(rate(errs{slot="${slot}",variant="${variant}"}[${window}]))`, Total: `sum(rate(reqs{slot="${slot}",variant="${variant}"}[${window}]))`},
			"latency-by-variant": {Value: `lat{slot="${slot}",variant="${variant}"}`},
		}},
		SLOs: []runbooks.SLO{
			{Name: "errors", ErrorRatio: &max},
			{Name: "latency", Template: "latency-by-variant", Compare: &runbooks.Compare{MinSamples: 5}},
		},
	}
	checks := FlagSLOChecks(env, "green", map[string]string{runbooks.VarSlot: "green"}, 2*time.Second)
	if len(checks) != 2 {
		t.Fatalf("%d checks, want 2", len(checks))
	}
	if r := checks[0].Ratio; r == nil || !strings.Contains(r.Bad, `slot="green",variant="on"`) {
		t.Errorf("errors measures %+v, want the variant on of slot green", checks[0].Ratio)
	}
	c := checks[1]
	if !strings.Contains(c.Query.Expr, `variant="on"`) || !strings.Contains(c.Baseline.Expr, `slot="green",variant="off"`) || c.Baseline.Backend != "green" {
		t.Errorf("compare: %q against %q (%s), want on against off on green", c.Query.Expr, c.Baseline.Expr, c.Baseline.Backend)
	}
	traffic := SLOChecks(env, "blue", "green", map[string]string{}, 2*time.Second)
	if strings.Contains(traffic[1].Baseline.Expr, `variant="off"`) {
		t.Errorf("a traffic step's compare baseline names a variant: %q", traffic[1].Baseline.Expr)
	}
}
