package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/freezes"
)

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	h := time.Hour
	fail := func(id, svc string, ago time.Duration) Failure {
		return Failure{ReleaseID: id, Service: svc, State: "failed", Reason: "smoke failed", ClosedAt: now.Add(-ago)}
	}
	fails := []Failure{
		fail("release/shop/1.0.1", "shop", 5*h),
		fail("release/shop/1.0.2", "shop", 3*h),
		fail("release/cart/2.0.0", "cart", 2*h),
		fail("release/shop/1.0.3", "shop", h),
		fail("release/shop/0.9.0", "shop", 30*h), // outside the window
	}
	perService := []Rule{{Scope: ScopeService, Failures: 3, Within: Duration(24 * h)}}
	trips := Evaluate(perService, fails, nil, now)
	if len(trips) != 1 || trips[0].Service != "shop" || len(trips[0].Evidence) != 3 {
		t.Fatalf("trips = %+v; want shop with 3 failures", trips)
	}
	for _, want := range []string{"automatic: circuit breaker: 3 releases of shop", "release/shop/1.0.1 (failed: smoke failed)", "release/shop/1.0.3"} {
		if !strings.Contains(trips[0].Reason(), want) {
			t.Errorf("reason %q lacks %q", trips[0].Reason(), want)
		}
	}
	if trips := Evaluate([]Rule{{Scope: ScopeNamespace, Failures: 4, Within: Duration(24 * h)}}, fails, nil, now); len(trips) != 1 || trips[0].Service != "" {
		t.Errorf("namespace rule: trips = %+v; want one namespace trip", trips)
	}
	if trips := Evaluate([]Rule{{Scope: ScopeService, Service: "cart", Failures: 2, Within: Duration(24 * h)}}, fails, nil, now); len(trips) != 0 {
		t.Errorf("cart had one failure: trips = %+v", trips)
	}
	// A breaker freeze that still holds: no second trip.
	held := freezes.Freeze{ID: "freeze-1", Services: []string{"shop"}, CreatedBy: BreakerActor, From: now.Add(-h)}
	if trips := Evaluate(perService, fails, []freezes.Freeze{held}, now); len(trips) != 0 {
		t.Errorf("with the breaker's freeze active: trips = %+v; want none", trips)
	}
	// A person's freeze of the same service does not count as the breaker's.
	person := held
	person.CreatedBy = "alice"
	if trips := Evaluate(perService, fails, []freezes.Freeze{person}, now); len(trips) != 1 {
		t.Errorf("with a person's freeze: trips = %+v; want the breaker's own", trips)
	}
	// Lifted by a person 2h ago: only later failures count, so no trip...
	lifted := held
	lifted.LiftedAt, lifted.LiftedBy = now.Add(-2*h), "alice"
	if trips := Evaluate(perService, fails, []freezes.Freeze{lifted}, now); len(trips) != 0 {
		t.Errorf("after the lift: trips = %+v; want none", trips)
	}
	// ...until three new ones do.
	more := append(fails, fail("release/shop/1.0.4", "shop", 30*time.Minute), fail("release/shop/1.0.5", "shop", 10*time.Minute))
	if trips := Evaluate(perService, more, []freezes.Freeze{lifted}, now); len(trips) != 1 || len(trips[0].Evidence) != 3 {
		t.Errorf("three failures after the lift: trips = %+v; want one with 3", trips)
	}
}
