package loadgen

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRate: over about a second the generator sends close to the rate, and
// never more, whether the server is fast or slower than the tick.
func TestRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{{"fast server", 0}, {"server slower than a tick", 60 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				time.Sleep(tc.delay)
			})
			const rate = 50
			s := runFor(t, Options{URL: srv.URL, Rate: rate, Concurrency: 8}, time.Second)
			wantRate(t, s, rate)
			if s.Requests != hits.Load() || s.Errors != 0 || s.ByStatus[200] != s.Requests {
				t.Errorf("stats %+v for %d requests served, want all of them counted as 200s", s, hits.Load())
			}
		})
	}
}

// TestSkippedTicks: with too few workers for the rate, ticks are skipped,
// not queued, so a slow server gets no burst.
func TestSkippedTicks(t *testing.T) {
	srv := server(t, func(http.ResponseWriter, *http.Request) { time.Sleep(100 * time.Millisecond) })
	const rate = 50
	s := runFor(t, Options{URL: srv.URL, Rate: rate, Concurrency: 1}, time.Second)
	if s.Skipped == 0 || s.Requests > 12 {
		t.Errorf("one worker against a 100ms server: %d requests, %d skipped; want at most ~10 requests and the rest skipped", s.Requests, s.Skipped)
	}
	if ticks := float64(s.Requests + s.Skipped); ticks > 1.2*rate*s.Elapsed.Seconds()+1 {
		t.Errorf("%v ticks in %v at %d/s", ticks, s.Elapsed, rate)
	}
}

// TestCounts: every answer is counted by status and by version, exactly as
// the server gave them.
func TestCounts(t *testing.T) {
	var mu sync.Mutex
	served := map[string]int64{}
	var n, failed int64
	srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		version := map[bool]string{true: "v2", false: "v1"}[n%4 == 0]
		if n%7 == 0 {
			version = "" // an answer without the header
		} else {
			w.Header().Set("X-App-Version", version)
		}
		served[version]++
		if n%10 == 0 {
			failed++
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	s := runFor(t, Options{URL: srv.URL, Rate: 400}, 500*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if s.Requests != n || n < 50 {
		t.Fatalf("%d requests counted, %d served; want the same, and at least 50", s.Requests, n)
	}
	if !maps.Equal(s.ByVersion, served) {
		t.Errorf("ByVersion = %v, want %v", s.ByVersion, served)
	}
	if s.ServerErrors != failed || s.ByStatus[502] != failed || s.ByStatus[200] != n-failed || s.Errors != 0 {
		t.Errorf("stats %+v, want %d 502s and %d 200s", s, failed, n-failed)
	}
}

// TestEventLog times a rollback the way the end-to-end tests do: v2 fails
// until the server switches to v1.
func TestEventLog(t *testing.T) {
	var mu sync.Mutex
	var n int
	var switched, lastV2 time.Time
	srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if n++; n <= 20 {
			lastV2 = time.Now()
			w.Header().Set("X-App-Version", "v2")
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if switched.IsZero() {
			switched = time.Now()
		}
		w.Header().Set("X-App-Version", "v1")
	})
	g, err := Start(context.Background(), Options{URL: srv.URL, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	if !g.FirstServerError().IsZero() || !g.LastSeen("v2").IsZero() {
		t.Errorf("events before any request: first 5xx %v, v2 last seen %v", g.FirstServerError(), g.LastSeen("v2"))
	}
	waitFor(t, func() bool { return g.Snapshot().ByVersion["v1"] >= 10 })
	g.Stop()
	mu.Lock()
	defer mu.Unlock()
	first, v2, v1 := g.FirstServerError(), g.LastSeen("v2"), g.LastSeen("v1")
	if first.IsZero() || first.After(v2) || v2.Before(lastV2) || !v1.After(switched) || !v1.After(v2) {
		t.Errorf("first 5xx %v, v2 last seen %v (last served %v), v1 last seen %v (switched %v): out of order",
			first, v2, lastV2, v1, switched)
	}
	if !g.LastSeen("v3").IsZero() {
		t.Errorf("LastSeen of a version never served = %v, want zero", g.LastSeen("v3"))
	}
}

// TestTransportErrors: requests that get no answer count as errors, and a
// server that never answers holds Stop no longer than the timeout.
func TestTransportErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	s := runFor(t, Options{URL: closed.URL, Rate: 100}, 300*time.Millisecond)
	if s.Requests == 0 || s.Errors != s.Requests || len(s.ByStatus) != 0 {
		t.Errorf("against a closed server: %+v, want every request an error", s)
	}

	hang := server(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	const timeout = 100 * time.Millisecond
	g, err := Start(context.Background(), Options{URL: hang.URL, Rate: 100, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.Snapshot().Errors > 0 })
	start := time.Now()
	s = g.Stop()
	if took := time.Since(start); took > timeout+time.Second {
		t.Errorf("Stop took %v with requests hanging, want about the timeout %v", took, timeout)
	}
	if s.Errors != s.Requests || s.ServerErrors != 0 {
		t.Errorf("against a hanging server: %+v, want every request a timeout", s)
	}
}

// TestStopWaitsForInFlight: Stop lets the requests in flight finish instead
// of aborting them into errors the server never caused.
func TestStopWaitsForInFlight(t *testing.T) {
	const delay = 200 * time.Millisecond
	var started, answered atomic.Int64
	srv := server(t, func(http.ResponseWriter, *http.Request) {
		started.Add(1)
		time.Sleep(delay)
		answered.Add(1)
	})
	g, err := Start(context.Background(), Options{URL: srv.URL, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return started.Load() >= 3 })
	s := g.Stop()
	if s.Errors != 0 || s.Requests != answered.Load() || s.Requests != started.Load() {
		t.Errorf("Stop: %+v; the server started %d and answered %d; want all answered and counted",
			s, started.Load(), answered.Load())
	}
	if s.P50 < delay*7/8 || s.P50 > DefaultTimeout {
		t.Errorf("P50 = %v with a %v server", s.P50, delay)
	}
	if again := g.Stop(); again.Requests != s.Requests || again.Elapsed != s.Elapsed {
		t.Errorf("second Stop = %+v, want the same totals as the first %+v", again, s)
	}
}

// TestNoGoroutineLeak: once stopped, or once its context ends, the
// generator leaves nothing running, its connections included.
func TestNoGoroutineLeak(t *testing.T) {
	srv := server(t, func(http.ResponseWriter, *http.Request) {})
	// Counted with the server up and checked before it closes, so that
	// connections the generator left open would keep goroutines on both ends.
	before := runtime.NumGoroutine()
	g, err := Start(context.Background(), Options{URL: srv.URL, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.Snapshot().Requests >= 10 })
	g.Stop()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })

	ctx, cancel := context.WithCancel(context.Background())
	g, err = Start(ctx, Options{URL: srv.URL, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.Snapshot().Requests >= 10 })
	cancel()
	<-g.Done()
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}

// TestOptions: bad options are refused before anything starts; zero values
// take the defaults.
func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{URL: "localhost:8080"},
		{URL: "ftp://example.com/"},
		{URL: "http://"},
		{URL: "http://a b/"},
		{URL: "http://127.0.0.1/", Rate: -1},
		{URL: "http://127.0.0.1/", Rate: MaxRate + 1},
		{URL: "http://127.0.0.1/", Concurrency: -1},
		{URL: "http://127.0.0.1/", Timeout: -time.Second},
	} {
		if g, err := Start(context.Background(), o); err == nil {
			g.Stop()
			t.Errorf("Start(%+v) succeeded, want an error", o)
		}
	}
	o, own, err := Options{URL: "http://127.0.0.1/"}.withDefaults()
	if err != nil || !own || o.Client == nil || o.Rate != DefaultRate || o.Concurrency != DefaultConcurrency || o.Timeout != DefaultTimeout {
		t.Errorf("defaults = %+v, own client %v, %v", o, own, err)
	}
}

// server starts a test server with h, closed at the end of the test.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// runFor runs load with o until its context times out after d, and returns
// the totals.
func runFor(t *testing.T, o Options, d time.Duration) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	g, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	<-g.Done()
	return g.Stop()
}

// wantRate checks the requests against the rate with room for a slow
// machine: fewer requests than ticks is tolerable, more never is.
func wantRate(t *testing.T, s Stats, rate int) {
	t.Helper()
	want := float64(rate) * s.Elapsed.Seconds()
	if got := float64(s.Requests); got < 0.5*want || got > 1.2*want+1 {
		t.Errorf("%d requests in %v at %d/s, want about %.0f", s.Requests, s.Elapsed, rate, want)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("condition not met within 10s; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	}
}
