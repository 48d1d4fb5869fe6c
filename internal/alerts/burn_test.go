package alerts

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/metrics/prometheus"
	"github.com/runbookhq/runbook/internal/testenv/prom"
)

func TestBurnTrip(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	r := BurnRule{Name: "shop-fast-burn", Service: "shop", Query: "burn", Above: 14.4, Cooldown: Duration(time.Hour)}
	if _, ok := BurnTrip(r, 10, nil, now); ok {
		t.Error("burn 10 tripped a 14.4 rule")
	}
	tr, ok := BurnTrip(r, 20, nil, now)
	if !ok || tr.Service != "shop" || !strings.Contains(tr.Reason(), "automatic: circuit breaker: the error budget of shop burns at 20, above 14.4 (burn rule shop-fast-burn") {
		t.Errorf("burn 20: %v %q", ok, tr.Reason())
	}
	held := freezes.Freeze{Services: []string{"shop"}, CreatedBy: BreakerActor, From: now.Add(-time.Hour)}
	if _, ok := BurnTrip(r, 20, []freezes.Freeze{held}, now); ok {
		t.Error("tripped while the breaker's freeze holds")
	}
	lifted := held
	lifted.LiftedAt = now.Add(-30 * time.Minute)
	if _, ok := BurnTrip(r, 20, []freezes.Freeze{lifted}, now); ok {
		t.Error("tripped within the cooldown after a lift")
	}
	lifted.LiftedAt = now.Add(-2 * time.Hour)
	if _, ok := BurnTrip(r, 20, []freezes.Freeze{lifted}, now); !ok {
		t.Error("did not trip after the cooldown")
	}
}

// The burn rule's query goes through the worker's prometheus provider to
// a real Prometheus.
func TestMeasureBurnWithPrometheus(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE slo_burn_rate gauge\nslo_burn_rate{service=\"shop\"} 21.5")
	}))
	t.Cleanup(target.Close)
	srv := prom.Start(t, strings.TrimPrefix(target.URL, "http://"))
	srv.WaitForData(t, `slo_burn_rate`, time.Minute)
	fs := metrics.Factories{"prometheus": metrics.FactoryOf(prometheus.New)}
	r := BurnRule{Name: "shop", Service: "shop", Provider: "prometheus", Options: map[string]string{"url": srv.URL}, Query: `max(slo_burn_rate{service="shop"})`, Above: 14.4}
	v, err := measureBurn(context.Background(), fs, r)
	if err != nil || v != 21.5 {
		t.Fatalf("measured %v (%v), want 21.5", v, err)
	}
	r.Provider = "nope"
	if _, err := measureBurn(context.Background(), fs, r); err == nil {
		t.Error("an unknown provider measured")
	}
}
