package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/metrics/edgestats"
	"github.com/runbookhq/runbook/activities/traffic/edgerouter"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/testenv/prom"
)

// e2eErrorRatio is the canary analysis query: 5xx over all requests of one
// backend, 0 rather than no data when the numerator has no series.
const e2eErrorRatio = `sum(rate(edge_requests_total{backend="%s",code_class="5xx"}[$window])) / sum(rate(edge_requests_total{backend="%s"}[$window])) or vector(0)`

// e2eWindow is the rate window of the PromQL queries.
const e2eWindow = 30 * time.Second

// e2eEdgeToken guards the edge's admin API; the edge wants 32 bytes at least.
const e2eEdgeToken = "e2e-edge-token-5c1d9a7e3b2f8a6d4c0e"

// e2eBackend counts the requests it serves and answers 500 to every
// errEvery-th of them (never, if errEvery is 0), after a fixed delay.
type e2eBackend struct {
	hits     atomic.Int64
	errEvery int64
	delay    time.Duration
}

func (b *e2eBackend) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n := b.hits.Add(1)
	time.Sleep(b.delay) // the backend's service time, not a wait for state
	if b.errEvery > 0 && n%b.errEvery == 0 {
		http.Error(w, "canary failure", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

// e2eLoad sends GET requests through the proxy from several goroutines until
// stopped, counting answers by status code.
type e2eLoad struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client

	mu      sync.Mutex
	codes   map[int]int
	errs    int
	lastErr error
}

func startLoad(url string, workers int) *e2eLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &e2eLoad{
		cancel: cancel,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
		codes:  map[int]int{},
	}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				l.one(ctx, url)
			}
		}()
	}
	return l
}

func (l *e2eLoad) one(ctx context.Context, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = l.client.Do(req); err == nil {
			resp.Body.Close()
			l.mu.Lock()
			l.codes[resp.StatusCode]++
			l.mu.Unlock()
			return
		}
	}
	if ctx.Err() != nil {
		return // stopping: the request was cut on purpose
	}
	l.mu.Lock()
	l.errs++
	l.lastErr = err
	l.mu.Unlock()
}

// stop ends the load and waits for every goroutine; calling it twice is fine.
func (l *e2eLoad) stop() {
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

// check fails the test on transport errors or codes other than 200 and 500.
func (l *e2eLoad) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errs > 0 {
		t.Errorf("load: %d requests failed, last: %v", l.errs, l.lastErr)
	}
	for code, n := range l.codes {
		if code != http.StatusOK && code != http.StatusInternalServerError {
			t.Errorf("load: %d answers with unexpected status %d", n, code)
		}
	}
	t.Logf("load: answers by status %v", l.codes)
}

// e2ePoll calls f every 50 ms until it reports done, failing the test with
// f's last description after timeout.
func e2ePoll(t *testing.T, timeout time.Duration, what string, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done, last := f()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", timeout, what, last)
		}
		<-tick.C
	}
}

// TestEdgeUnderLoadScrapedByPrometheus is the end-to-end path of a canary
// analysis: real HTTP load through the edge proxy, weights set through the
// traffic router, a real Prometheus scraping the edge's /metrics, the
// prometheus provider and the Measure activity judging the canary, and the
// edge provider confirming that a shift to stable 100 starves the canary.
func TestEdgeUnderLoadScrapedByPrometheus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	stable := &e2eBackend{delay: time.Millisecond}
	canary := &e2eBackend{delay: time.Millisecond, errEvery: 4} // error ratio 0.25
	stableSrv, canarySrv := httptest.NewServer(stable), httptest.NewServer(canary)
	defer stableSrv.Close()
	defer canarySrv.Close()

	srv, err := edgeproxy.New(edgeproxy.Config{
		Listen:    "127.0.0.1:0",
		Admin:     "127.0.0.1:0",
		Token:     e2eEdgeToken,
		StateFile: filepath.Join(t.TempDir(), "edge-state.json"),
		Seed:      1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Seed([]edgeproxy.BackendSpec{
		{Name: "stable", URL: stableSrv.URL, Weight: 100},
		{Name: "canary", URL: canarySrv.URL, Weight: 0},
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("edge shutdown: %v", err)
		}
	}()

	t.Setenv(secretref.AllowEnv, "EDGE_E2E_TOKEN")
	t.Setenv("EDGE_E2E_TOKEN", e2eEdgeToken)
	router, err := edgerouter.New(map[string]string{
		edgerouter.OptAdmin: "http://" + srv.AdminAddr(),
		edgerouter.OptToken: "env:EDGE_E2E_TOKEN",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := router.SetWeights(ctx, map[string]int{"stable": 50, "canary": 50}); err != nil {
		t.Fatal(err)
	}

	prom := prom.Start(t, srv.AdminAddr())

	load := startLoad("http://"+srv.ProxyAddr()+"/", 4)
	defer load.stop()

	prov, err := New(map[string]string{"url": prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	query := func(expr string) (metrics.Sample, error) {
		return prov.Query(ctx, metrics.Query{Expr: expr, Window: e2eWindow})
	}
	canaryRatio := fmt.Sprintf(e2eErrorRatio, "canary", "canary")
	stableRatio := fmt.Sprintf(e2eErrorRatio, "stable", "stable")
	canarySeen := `sum(increase(edge_requests_total{backend="canary"}[$window]))`

	// Wait until Prometheus holds enough canary traffic for a steady ratio:
	// a non-zero error ratio and at least 400 requests in the window.
	var ratio float64
	e2ePoll(t, 45*time.Second, "a non-zero canary error ratio over >= 400 requests in Prometheus", func() (bool, string) {
		seen, err := query(canarySeen)
		if err != nil {
			return false, err.Error()
		}
		s, err := query(canaryRatio)
		if err != nil {
			return false, err.Error()
		}
		ratio = s.Value
		return s.Value > 0 && seen.Value >= 400, fmt.Sprintf("ratio %g over %g requests", s.Value, seen.Value)
	})
	t.Logf("canary error ratio from Prometheus: %g", ratio)
	if math.Abs(ratio-0.25) > 0.03 {
		t.Errorf("canary error ratio from Prometheus = %g, want 0.25 ± 0.03", ratio)
	}
	s, err := query(stableRatio)
	if err != nil {
		t.Fatalf("stable error ratio: %v", err)
	}
	if s.Value != 0 {
		t.Errorf("stable error ratio from Prometheus = %g, want 0", s.Value)
	}

	// The Measure activity over the same provider: canary fails a 5% error
	// budget, stable passes it.
	acts := &metrics.Activities{Providers: map[string]metrics.Provider{"prom": prov}}
	check := func(name, expr string) metrics.Check {
		return metrics.Check{
			Name: name, Kind: metrics.KindErrorRatio, Provider: "prom", Max: 0.05,
			Query: metrics.Query{Expr: expr, Window: e2eWindow},
		}
	}
	res, err := acts.Measure(ctx, metrics.MeasureInput{Round: 1, Checks: []metrics.Check{
		check("canary errors", canaryRatio),
		check("stable errors", stableRatio),
	}})
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	if len(res.Measurements) != 2 {
		t.Fatalf("Measure returned %d measurements, want 2: %+v", len(res.Measurements), res)
	}
	if m := res.Measurements[0]; m.Verdict != metrics.Fail || math.Abs(float64(m.Value)-0.25) > 0.03 {
		t.Errorf("canary check: verdict %s value %g (%s), want fail near 0.25", m.Verdict, float64(m.Value), m.Detail)
	}
	if m := res.Measurements[1]; m.Verdict != metrics.Pass || float64(m.Value) != 0 {
		t.Errorf("stable check: verdict %s value %g (%s), want pass at 0", m.Verdict, float64(m.Value), m.Detail)
	}
	if res.Verdict != metrics.Fail {
		t.Errorf("round verdict %s, want fail", res.Verdict)
	}

	// Roll back: all traffic to stable. Once no canary request is in flight,
	// every request the canary will ever see is counted.
	if err := router.SetWeights(ctx, map[string]int{"stable": 100, "canary": 0}); err != nil {
		t.Fatal(err)
	}
	e2ePoll(t, 10*time.Second, "no canary request in flight", func() (bool, string) {
		for _, b := range srv.Backends() {
			if b.Name == "canary" {
				return b.InFlight == 0, fmt.Sprintf("%d in flight", b.InFlight)
			}
		}
		return false, "canary backend missing"
	})

	ep, err := edgestats.New(map[string]string{"url": "http://" + srv.AdminAddr() + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	equery := func(backend, expr string) (metrics.Sample, error) {
		return ep.Query(ctx, metrics.Query{Expr: expr, Backend: backend})
	}
	canaryHits := canary.hits.Load()
	pairs := [][2]string{{"canary", "error-ratio"}, {"canary", "request-rate"}, {"stable", "error-ratio"}, {"stable", "request-rate"}}
	for _, p := range pairs { // first scrape: baselines only
		if _, err := equery(p[0], p[1]); !errors.Is(err, metrics.ErrInconclusive) {
			t.Fatalf("first edge scrape of %s %s: err %v, want inconclusive", p[0], p[1], err)
		}
	}
	stableHits := stable.hits.Load()
	e2ePoll(t, 10*time.Second, "200 more requests on stable", func() (bool, string) {
		n := stable.hits.Load() - stableHits
		return n >= 200, fmt.Sprintf("%d", n)
	})

	if _, err := equery("canary", "error-ratio"); !errors.Is(err, metrics.ErrInconclusive) {
		t.Errorf("canary error-ratio after the shift: err %v, want inconclusive (no requests)", err)
	}
	if s, err := equery("canary", "request-rate"); err != nil || s.Value != 0 {
		t.Errorf("canary request-rate after the shift = %g, %v; want 0", s.Value, err)
	}
	if s, err := equery("stable", "error-ratio"); err != nil || s.Value != 0 {
		t.Errorf("stable error-ratio after the shift = %g, %v; want 0", s.Value, err)
	}
	if s, err := equery("stable", "request-rate"); err != nil || s.Value <= 0 {
		t.Errorf("stable request-rate after the shift = %g, %v; want > 0", s.Value, err)
	}
	if n := canary.hits.Load() - canaryHits; n != 0 {
		t.Errorf("canary backend served %d requests after the shift, want 0", n)
	}

	load.stop()
	load.check(t)
}
