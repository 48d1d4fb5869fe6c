package edgestats

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
)

// clocked is a provider on tg whose clock the test moves by hand.
type clocked struct {
	*Provider
	now time.Time
}

func newClocked(t *testing.T, tg *target) *clocked {
	p, err := New(map[string]string{"url": tg.srv.URL + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clocked{Provider: p, now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	p.now = func() time.Time { return c.now }
	return c
}

// at moves the clock to offset from the start and queries expr over window.
func (c *clocked) at(t *testing.T, start time.Time, offset, window time.Duration, expr string) (float64, error) {
	t.Helper()
	c.now = start.Add(offset)
	s, err := c.Query(context.Background(), metrics.Query{Expr: expr, Backend: "canary", Window: window})
	return s.Value, err
}

// counters serves canary counters: ok and errs requests, every one fast.
func counters(tg *target, ok, errs float64) {
	n := ok + errs
	tg.body.Store(exposition(ok, errs, [4]float64{n, n, n, n}))
}

func wantValue(t *testing.T, what string, got float64, err error, want float64) {
	t.Helper()
	if err != nil || math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %v, %v; want %v", what, got, err, want)
	}
}

func wantInconclusive(t *testing.T, what string, err error, contains string) {
	t.Helper()
	if !errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), contains) {
		t.Errorf("%s: err = %v, want inconclusive mentioning %q", what, err, contains)
	}
}

func TestSlidingWindow(t *testing.T) {
	tg := newTarget(t)
	p := newClocked(t, tg)
	t0, w := p.now, 30*time.Second

	counters(tg, 100, 0)
	_, err := p.at(t, t0, 0, w, "error-ratio")
	wantInconclusive(t, "first scrape", err, "only 0s of data, need at least 15s of the 30s window")

	counters(tg, 150, 0)
	_, err = p.at(t, t0, 10*time.Second, w, "error-ratio")
	wantInconclusive(t, "10s into a 30s window", err, "only 10s of data")

	// Half the window: the oldest scrape (t0) will do.
	counters(tg, 180, 20)
	v, err := p.at(t, t0, 15*time.Second, w, "error-ratio")
	wantValue(t, "ratio over 15s", v, err, 0.2) // 20 of 100 since t0

	// A full window: the newest scrape at or before now-30s is still t0.
	counters(tg, 200, 20)
	v, err = p.at(t, t0, 30*time.Second, w, "request-rate")
	wantValue(t, "rate over 30s", v, err, 120.0/30)

	// 40s: the window starts at the scrape taken at 10s (150 ok, 0 errors).
	counters(tg, 230, 20)
	v, err = p.at(t, t0, 40*time.Second, w, "error-ratio")
	wantValue(t, "ratio from 10s to 40s", v, err, 20.0/100)

	// Other windows share the backend's history: 20s back from 40s is 15s.
	v, err = p.at(t, t0, 40*time.Second, 20*time.Second, "request-rate")
	wantValue(t, "rate over the last 20s (from the 15s scrape)", v, err, 50.0/25)

	// Window 0 keeps its own since-the-previous-query baseline.
	_, err = p.at(t, t0, 40*time.Second, 0, "error-ratio")
	wantInconclusive(t, "window 0, first query", err, "first scrape")
}

func TestSlidingWindowGoesStale(t *testing.T) {
	tg := newTarget(t)
	p := newClocked(t, tg)
	t0, w := p.now, 10*time.Second
	counters(tg, 100, 0)
	if _, err := p.at(t, t0, 0, w, "error-ratio"); err == nil {
		t.Fatal("first scrape answered")
	}
	counters(tg, 200, 0)
	v, err := p.at(t, t0, 15*time.Second, w, "error-ratio")
	wantValue(t, "a window 1.5 times as long as asked", v, err, 0)

	// Scrapes older than 1.5 windows would mix in traffic from long ago.
	counters(tg, 300, 100)
	_, err = p.at(t, t0, 31*time.Second, w, "error-ratio")
	wantInconclusive(t, "16s after the previous query", err, "a query at least every 15s")
	// That scrape starts the next window once it is half a window old.
	counters(tg, 400, 100)
	v, err = p.at(t, t0, 37*time.Second, w, "error-ratio")
	wantValue(t, "6s after the previous query", v, err, 0)

	// A longer window keeps older scrapes, which a shorter one still ignores.
	_, err = p.at(t, t0, 40*time.Second, time.Minute, "request-rate")
	wantInconclusive(t, "a minute's window with 9s of data", err, "only 9s of data, need at least 30s")
	counters(tg, 500, 100)
	v, err = p.at(t, t0, 71*time.Second, time.Minute, "request-rate")
	wantValue(t, "request rate over 40s of a minute", v, err, 200.0/40)
	_, err = p.at(t, t0, 71*time.Second, w, "request-rate")
	wantInconclusive(t, "10s window 31s after the previous query", err, "only 0s of data")
}

func TestSlidingWindowMinRequests(t *testing.T) {
	tg := newTarget(t)
	p := newClocked(t, tg)
	t0, w := p.now, 10*time.Second
	counters(tg, 100, 0)
	_, _ = p.at(t, t0, 0, w, "error-ratio")

	counters(tg, 100, 0)
	_, err := p.at(t, t0, 10*time.Second, w, "error-ratio")
	wantInconclusive(t, "no requests", err, "only 0 requests in 10s, need at least 10")

	counters(tg, 103, 6)
	_, err = p.at(t, t0, 20*time.Second, w, "error-ratio")
	wantInconclusive(t, "9 requests", err, "only 9 requests")

	counters(tg, 107, 12)
	v, err := p.at(t, t0, 30*time.Second, w, "error-ratio")
	wantValue(t, "10 requests, 6 failed", v, err, 0.6)
}

// A proxy restart inside the window counts the traffic on both sides of it,
// as Prometheus's increase() does.
func TestSlidingWindowAcrossRestart(t *testing.T) {
	tg := newTarget(t)
	p := newClocked(t, tg)
	t0, w := p.now, 30*time.Second
	counters(tg, 1000, 0)
	_, _ = p.at(t, t0, 0, w, "error-ratio")
	counters(tg, 1090, 10) // +100, 10 errors
	_, _ = p.at(t, t0, 10*time.Second, w, "error-ratio")
	counters(tg, 45, 5) // restarted, then 50 requests, 5 errors
	_, _ = p.at(t, t0, 20*time.Second, w, "error-ratio")
	counters(tg, 135, 15) // +100, 10 errors
	v, err := p.at(t, t0, 30*time.Second, w, "error-ratio")
	wantValue(t, "ratio across the restart", v, err, 25.0/250)
	v, err = p.at(t, t0, 30*time.Second, w, "request-rate")
	wantValue(t, "rate across the restart", v, err, 250.0/30)
}

func TestHistoryIsBounded(t *testing.T) {
	tg := newTarget(t)
	p := newClocked(t, tg)
	t0, w := p.now, time.Minute
	counters(tg, 100, 0)
	// Several expressions per instant, as several checks query each tick:
	// only one scrape per instant is kept.
	for i := range 90 {
		for _, e := range []string{"error-ratio", "request-rate", "latency:0.5"} {
			_, _ = p.at(t, t0, time.Duration(i)*time.Second, w, e)
		}
	}
	if n := len(p.hist["canary"].snaps); n != 90 {
		t.Errorf("%d snapshots after 90 instants, want 90", n)
	}
	// Older than 1.5 windows: dropped.
	_, _ = p.at(t, t0, 200*time.Second, w, "error-ratio")
	if n := len(p.hist["canary"].snaps); n != 1 {
		t.Errorf("%d snapshots after a long pause, want 1", n)
	}
	// Scrapes closer than window/1024 are not kept: a fast caller with a
	// long window cannot exceed the cap.
	start := t0.Add(300 * time.Second)
	for i := range 2000 {
		_, _ = p.at(t, start, time.Duration(i)*5*time.Millisecond, time.Hour, "error-ratio")
	}
	// 10s of scrapes, one kept per 1h/1024 (3.5s), plus the one at 200s.
	if n := len(p.hist["canary"].snaps); n != 4 {
		t.Errorf("%d snapshots kept from 2000 scrapes 5ms apart for a 1h window, want 4", n)
	}
	// Thinning alone keeps about 1.5*snapshotsPerWindow; the cap is a
	// backstop.
	h := &history{maxWindow: time.Hour, snaps: make([]snapshot, 2*maxSnapshots)}
	for i := range h.snaps {
		h.snaps[i].at = t0
	}
	h.prune(t0)
	if n := len(h.snaps); n != maxSnapshots {
		t.Errorf("%d snapshots, want the cap %d", n, maxSnapshots)
	}
}

// TestWindowNeverReachesBeforeSince: errors the backend served for an earlier
// weight (before Since) do not count against the bake that starts after them.
func TestWindowNeverReachesBeforeSince(t *testing.T) {
	tg := newTarget(t)
	c := newClocked(t, tg)
	start := c.now
	query := func(offset time.Duration, since time.Time) (float64, error) {
		c.now = start.Add(offset)
		s, err := c.Query(context.Background(), metrics.Query{Expr: "error-ratio", Backend: "canary", Window: 4 * time.Second, Since: since})
		return s.Value, err
	}
	counters(tg, 100, 0)
	_, _ = query(0, time.Time{})
	counters(tg, 100, 100) // a broken earlier release: 100 errors
	_, _ = query(2*time.Second, time.Time{})
	since := start.Add(3 * time.Second) // the next bake starts
	_, err := query(3*time.Second, since)
	wantInconclusive(t, "the bake's first query", err, "of data")
	counters(tg, 200, 100) // 100 good requests since
	_, err = query(4*time.Second, since)
	wantInconclusive(t, "one second into a 4s window", err, "of data")
	counters(tg, 300, 100)
	v, err := query(5*time.Second, since)
	wantValue(t, "error ratio of the new bake's own traffic", v, err, 0)
	v, err = query(5*time.Second, time.Time{})
	if err != nil || v == 0 {
		t.Errorf("without Since the window reaches the earlier errors: got %v, %v; want a ratio above 0", v, err)
	}
}
