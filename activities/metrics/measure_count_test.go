package metrics

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestMeasureReportsCount: the count behind a value is part of the
// measurement, also when it made the answer inconclusive, and a check
// without a count query has none (no "count" key in JSON).
func TestMeasureReportsCount(t *testing.T) {
	p := fake{
		"bad": {s: Sample{Value: 2}}, "total": {s: Sample{Value: 200}},
		"many": {s: Sample{Value: 200}}, "few": {s: Sample{Value: 3}},
		"p99": {s: Sample{Value: 0.2}},
	}
	a := &Activities{Providers: map[string]Provider{"prom": p}}
	ratio := &Ratio{Bad: "bad", Total: "total"}
	res, err := a.Measure(context.Background(), MeasureInput{Checks: []Check{
		{Name: "busy", Kind: KindErrorRatio, Provider: "prom", Ratio: ratio, Count: "many", MinCount: 10, Max: 0.05},
		{Name: "idle", Kind: KindErrorRatio, Provider: "prom", Ratio: ratio, Count: "few", MinCount: 10, Max: 0.05},
		{Name: "plain", Kind: KindLatency, Provider: "prom", Query: Query{Expr: "p99"}, Max: 0.5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	busy, idle, plain := res.Measurements[0], res.Measurements[1], res.Measurements[2]
	if busy.Verdict != Pass || busy.Count == nil || *busy.Count != 200 || busy.Value != 0.01 {
		t.Errorf("busy: %+v, want pass at 0.01 over a count of 200", busy)
	}
	if idle.Verdict != Inconclusive || idle.Count == nil || *idle.Count != 3 || !strings.Contains(idle.Detail, "3 requests") {
		t.Errorf("idle: %+v, want inconclusive with a count of 3", idle)
	}
	if plain.Count != nil {
		t.Errorf("plain: count %v, want none without a count query", *plain.Count)
	}
	b, err := json.Marshal(res.Measurements)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(b), `"count":`); got != 2 {
		t.Errorf("JSON has %d count keys, want 2 (none for the check without a count): %s", got, b)
	}
}
