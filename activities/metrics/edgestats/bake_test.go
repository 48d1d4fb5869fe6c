package edgestats

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
)

// stepClock is a metrics.Clock that advances only when slept on.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

// TestBakeRollsBackWithinAnInterval bakes a canary behind a simulated edge
// proxy serving 100 requests a second, which starts failing half of them
// after failAt: the bake must fail within one analysis interval and a second.
func TestBakeRollsBackWithinAnInterval(t *testing.T) {
	for _, failAt := range []time.Duration{0, 100 * time.Second, time.Hour} {
		t.Run(fmt.Sprint(failAt), func(t *testing.T) {
			clock := &stepClock{now: time.Date(2026, 7, 8, 9, 10, 11, 0, time.UTC)}
			start := clock.now
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				s := clock.Now().Sub(start).Seconds()
				bad := max(0, s-failAt.Seconds()) * 50
				fmt.Fprint(w, exposition(100*s-bad, bad, [4]float64{100 * s, 100 * s, 100 * s, 100 * s}))
			}))
			defer srv.Close()
			p, err := New(map[string]string{"url": srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			p.now = clock.Now
			a := &metrics.Activities{Providers: map[string]metrics.Provider{"edge": p}, Clock: clock}
			interval := 30 * time.Second
			res, err := a.Bake(context.Background(), metrics.BakeInput{
				Checks: []metrics.Check{{Name: "errors", Kind: metrics.KindErrorRatio, Provider: "edge",
					Query: metrics.Query{Expr: "error-ratio", Backend: "canary"}, Max: 0.05}},
				Interval: interval, Duration: 5 * time.Minute, FirstRound: 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			if failAt > 5*time.Minute {
				if res.Verdict != metrics.Pass || len(res.Rounds) != 10 {
					t.Fatalf("healthy canary: %s after %d rounds (%+v)", res.Verdict, len(res.Rounds), res.Decisive)
				}
				return
			}
			if res.Verdict != metrics.Fail || res.Elapsed > failAt+interval+time.Second {
				t.Fatalf("failing from %s: %s after %s, want fail within %s", failAt, res.Verdict, res.Elapsed, interval+time.Second)
			}
			t.Logf("failing from %s: rolled back at %s: %s", failAt, res.Elapsed, res.Decisive.Measurements[0].Detail)
		})
	}
}
