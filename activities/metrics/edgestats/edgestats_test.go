package edgestats

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runbookhq/runbook/activities/metrics"
)

// exposition renders the edge proxy's metrics for backend "canary" (the
// numbers under test) and "stable" (noise that must be filtered out).
func exposition(ok, errs float64, buckets [4]float64) string {
	var b strings.Builder
	b.WriteString("# HELP edge_requests_total Requests by backend and status class.\n# TYPE edge_requests_total counter\n")
	fmt.Fprintf(&b, "edge_requests_total{backend=\"canary\",code_class=\"2xx\"} %g\n", ok)
	fmt.Fprintf(&b, "edge_requests_total{backend=\"canary\",code_class=\"5xx\"} %g\n", errs)
	b.WriteString("edge_requests_total{backend=\"stable\",code_class=\"5xx\"} 1e6 1700000000000\n")
	b.WriteString("# TYPE edge_request_duration_seconds histogram\n")
	for i, le := range []string{"0.1", "0.25", "0.5", "+Inf"} {
		fmt.Fprintf(&b, "edge_request_duration_seconds_bucket{backend=\"canary\",le=\"%s\"} %g\n", le, buckets[i])
		fmt.Fprintf(&b, "edge_request_duration_seconds_bucket{le=\"%s\",backend=\"stable\"} 999\n", le)
	}
	fmt.Fprintf(&b, "edge_request_duration_seconds_sum{backend=\"canary\"} 12.5\nedge_request_duration_seconds_count{backend=\"canary\"} %g\n", buckets[3])
	return b.String()
}

type target struct {
	srv  *httptest.Server
	body atomic.Value
}

func newTarget(t *testing.T) *target {
	tg := &target{}
	tg.body.Store("")
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, tg.body.Load().(string))
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func newProvider(t *testing.T, tg *target) metrics.Provider {
	p, err := New(map[string]string{"url": tg.srv.URL + "/metrics"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func query(p metrics.Provider, backend, expr string) (metrics.Sample, error) {
	return p.Query(context.Background(), metrics.Query{Expr: expr, Backend: backend})
}

func TestDeltasBetweenScrapes(t *testing.T) {
	tg := newTarget(t)
	p := newProvider(t, tg)
	exprs := []string{"error-ratio", "latency:0.1", "latency:0.5", "latency:0.99", "request-rate"}

	tg.body.Store(exposition(100, 0, [4]float64{50, 90, 100, 100}))
	for _, e := range exprs {
		if _, err := query(p, "canary", e); !errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), "first scrape") {
			t.Fatalf("%s first scrape: err = %v, want inconclusive baseline", e, err)
		}
	}

	// 100 more requests, 10 of them 5xx; bucket deltas 20, 40, 90, 100.
	tg.body.Store(exposition(190, 10, [4]float64{70, 130, 190, 200}))
	want := map[string]float64{
		"error-ratio":  0.1,
		"latency:0.1":  0.05, // rank 10 of 20 in (0, 0.1]
		"latency:0.5":  0.3,  // rank 50: 10 of 50 into (0.25, 0.5]
		"latency:0.99": 0.5,  // rank 99 lands in +Inf: highest finite bound
	}
	for _, e := range exprs[:4] {
		s, err := query(p, "canary", e)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if math.Abs(s.Value-want[e]) > 1e-9 || s.At.IsZero() {
			t.Errorf("%s = %v at %v, want %v", e, s.Value, s.At, want[e])
		}
	}
	if s, err := query(p, "canary", "request-rate"); err != nil || !(s.Value > 0) {
		t.Errorf("request-rate = %v, %v", s.Value, err)
	}

	// No new requests: nothing to judge.
	if _, err := query(p, "canary", "error-ratio"); !errors.Is(err, metrics.ErrInconclusive) {
		t.Errorf("no traffic: err = %v, want inconclusive", err)
	}

	// The proxy restarted: counters went down and count from zero.
	tg.body.Store(exposition(36, 4, [4]float64{10, 20, 30, 40}))
	if s, err := query(p, "canary", "error-ratio"); err != nil || math.Abs(s.Value-0.1) > 1e-9 {
		t.Errorf("after reset: %v, %v; want 0.1", s.Value, err)
	}
	if s, err := query(p, "canary", "latency:0.5"); err != nil || math.Abs(s.Value-0.25) > 1e-9 {
		t.Errorf("after reset p50: %v, %v; want 0.25 (rank 20 of 40 is the top of (0.1, 0.25])", s.Value, err)
	}
}

func TestQueryErrors(t *testing.T) {
	tg := newTarget(t)
	tg.body.Store(exposition(1, 0, [4]float64{1, 1, 1, 1}))
	p := newProvider(t, tg)
	if _, err := query(p, "green", "error-ratio"); !errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), "green") {
		t.Errorf("unknown backend: err = %v", err)
	}
	for _, e := range []string{"p99", "latency:1", "latency:x", ""} {
		if _, err := query(p, "canary", e); err == nil || errors.Is(err, metrics.ErrInconclusive) {
			t.Errorf("expr %q: err = %v, want a plain error", e, err)
		}
	}
	if _, err := query(p, "", "error-ratio"); err == nil {
		t.Error("no backend: no error")
	}
	tg.body.Store("edge_requests_total{backend=\"canary\" 3\n")
	if _, err := query(p, "canary", "error-ratio"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("garbage: err = %v", err)
	}
	bad, _ := New(map[string]string{"url": tg.srv.URL + "/nope"})
	if _, err := query(bad, "canary", "error-ratio"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: err = %v", err)
	}
	if _, err := New(nil); err == nil {
		t.Error("New without url: no error")
	}
	if _, err := New(map[string]string{"url": "x", "token": "y"}); err == nil {
		t.Error("New with unknown option: no error")
	}
}

func TestParseLine(t *testing.T) {
	s, err := parseLine(`m{a="x\"y",b="1\\2\n", } +Inf 123`)
	if err != nil {
		t.Fatal(err)
	}
	if s.name != "m" || s.labels["a"] != `x"y` || s.labels["b"] != "1\\2\n" || !math.IsInf(s.value, 1) {
		t.Errorf("got %+v", s)
	}
	if s, err := parseLine("plain 2.5"); err != nil || s.value != 2.5 || len(s.labels) != 0 {
		t.Errorf("plain: %+v, %v", s, err)
	}
	for _, bad := range []string{"novalue", `m{a="x} 1`, "m 1 2 3", "m abc", `m{a=x} 1`} {
		if _, err := parseLine(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		q    float64
		b    map[float64]float64
		want float64
	}{
		{0.5, map[float64]float64{1: 0, 2: 10, inf: 10}, 1.5},
		{0.5, map[float64]float64{1: 10, 2: 10, inf: 10}, 0.5},
		{0.99, map[float64]float64{1: 5, 2: 5, inf: 10}, 2},
		{0.5, map[float64]float64{1: 8, 2: 7, inf: 10}, 0.625}, // non-monotonic scrape clamped
	}
	for _, c := range cases {
		got, err := quantile(c.q, c.b)
		if err != nil || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v, %v) = %v, %v; want %v", c.q, c.b, got, err, c.want)
		}
	}
	// No +Inf bucket, no finite bucket, no requests, and fewer requests
	// than a quantile can be judged on.
	for _, b := range []map[float64]float64{{1: 3}, {1: 3, 2: 4}, {1: 0, inf: 0}, {1: 2, 2: 3, inf: MinRequests - 1}} {
		if _, err := quantile(0.5, b); !errors.Is(err, metrics.ErrInconclusive) {
			t.Errorf("quantile(%v): err = %v, want inconclusive", b, err)
		}
	}
}
