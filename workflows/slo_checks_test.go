package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/runbooks"
)

func TestSLOChecksFromTemplates(t *testing.T) {
	ratio, maxQ := 0.01, 100.0
	env := runbooks.Environment{
		Name:    "production",
		Traffic: &runbooks.Traffic{Provider: "edge", Slots: map[string]map[string]string{"blue": {"pool": "b"}, "green": {"pool": "g"}}},
		Metrics: &runbooks.Metrics{Provider: "prometheus", Templates: map[string]runbooks.MetricTemplate{
			"queue": {Value: `max(queue{pool="${slot.pool}"}[${window}])`, Count: "n{svc=\"${service}\"}", MinCount: 50},
		}},
		SLOs: []runbooks.SLO{
			{Name: "errors", ErrorRatio: &ratio},
			{Name: "slow", Latency: &runbooks.Latency{Percentile: 99.5, Max: runbooks.Duration(300 * time.Millisecond)}},
			{Name: "queue", Template: "queue", Max: &maxQ},
		},
	}
	vars := SLOVars("shop", "2.0.0", "file:///a", &env, "green", "blue")
	// No templates in the input (a release started before they travelled
	// there): the preset for edge + prometheus.
	env.Metrics.Templates = nil
	checks := SLOChecks(&env, "green", "blue", vars, 10*time.Second)
	er := checks[0]
	if er.Kind != metrics.KindErrorRatio || er.Ratio == nil || !strings.Contains(er.Ratio.Bad, `edge_requests_total{backend="green",code_class="5xx"}[${window}]`) ||
		er.Count == "" || er.MinCount != runbooks.DefaultMinCount || er.Max != 0.01 || er.Query.Backend != "green" || er.Query.Window != 10*time.Second {
		t.Errorf("error-ratio check from the edge-prometheus preset = %+v", er)
	}
	if l := checks[1]; l.Kind != metrics.KindLatency || !strings.HasPrefix(l.Query.Expr, "histogram_quantile(0.995, ") || l.Max != 0.3 {
		t.Errorf("latency check = %+v, want the preset's quantile at 0.995 and max 0.3 s", l)
	}

	env.Metrics.Templates = map[string]runbooks.MetricTemplate{
		"queue": {Value: `max(queue{pool="${slot.pool}"}[${window}])`, Count: "n{svc=\"${service}\"}", MinCount: 50},
	}
	q := SLOChecks(&env, "green", "blue", vars, 10*time.Second)[2]
	if q.Kind != metrics.KindQuery || q.Query.Expr != `max(queue{pool="g"}[${window}])` || q.Count != `n{svc="shop"}` || q.MinCount != 50 || q.Max != 100 {
		t.Errorf("template check = %+v", q)
	}
}
