package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/testenv/prom"
)

// edgeTarget imitates the edge proxy's /metrics: every scrape, backend canary
// gets 9 successes and 1 server error, 5 requests at <= 0.1 s and 5 in
// (0.1 s, 0.5 s]; backend stable gets 10 successes. Every series exists from
// the first scrape, at 0, so rates and ratios are defined from the start.
type edgeTarget struct {
	mu                           sync.Mutex
	ok, errs, fast, slow, stable float64
}

func (e *edgeTarget) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# TYPE edge_requests_total counter\n")
	fmt.Fprintf(w, "edge_requests_total{backend=\"canary\",code_class=\"2xx\"} %g\n", e.ok)
	fmt.Fprintf(w, "edge_requests_total{backend=\"canary\",code_class=\"5xx\"} %g\n", e.errs)
	fmt.Fprintf(w, "edge_requests_total{backend=\"stable\",code_class=\"2xx\"} %g\n", e.stable)
	fmt.Fprintf(w, "edge_requests_total{backend=\"stable\",code_class=\"5xx\"} 0\n")
	fmt.Fprintf(w, "# TYPE edge_request_duration_seconds histogram\n")
	fmt.Fprintf(w, "edge_request_duration_seconds_bucket{backend=\"canary\",le=\"0.1\"} %g\n", e.fast)
	fmt.Fprintf(w, "edge_request_duration_seconds_bucket{backend=\"canary\",le=\"0.5\"} %g\n", e.fast+e.slow)
	fmt.Fprintf(w, "edge_request_duration_seconds_bucket{backend=\"canary\",le=\"+Inf\"} %g\n", e.fast+e.slow)
	fmt.Fprintf(w, "edge_request_duration_seconds_sum{backend=\"canary\"} %g\n", 0.05*e.fast+0.3*e.slow)
	fmt.Fprintf(w, "edge_request_duration_seconds_count{backend=\"canary\"} %g\n", e.fast+e.slow)
	e.ok, e.errs, e.fast, e.slow, e.stable = e.ok+9, e.errs+1, e.fast+5, e.slow+5, e.stable+10
}

const errorRatio = `sum(rate(edge_requests_total{backend="%s",code_class="5xx"}[$window]))
  / sum(rate(edge_requests_total{backend="%s"}[$window])) or vector(0)`

func TestAgainstPrometheus(t *testing.T) {
	target := httptest.NewServer(&edgeTarget{})
	defer target.Close()
	srv := prom.Start(t, strings.TrimPrefix(target.URL, "http://"))
	// Rates need two scrapes in the window; the first comes seconds after start.
	srv.WaitForData(t, `sum(rate(edge_requests_total{backend="canary",code_class="5xx"}[2s])) > 0`, time.Minute)

	p, err := New(map[string]string{"url": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := func(expr string, window time.Duration) (metrics.Sample, error) {
		return p.Query(ctx, metrics.Query{Expr: expr, Window: window})
	}

	t.Run("error ratio", func(t *testing.T) {
		s, err := q(fmt.Sprintf(errorRatio, "canary", "canary"), 2*time.Second)
		if err != nil || math.Abs(s.Value-0.1) > 1e-9 || time.Since(s.At) > time.Minute {
			t.Fatalf("canary error ratio = %v at %v, %v; want 0.1 now", s.Value, s.At, err)
		}
		if s, err := q(fmt.Sprintf(errorRatio, "stable", "stable"), 2*time.Second); err != nil || s.Value != 0 {
			t.Errorf("stable error ratio = %v, %v; want 0", s.Value, err)
		}
		// No such backend: `or vector(0)` turns "no data" into 0 ...
		if s, err := q(fmt.Sprintf(errorRatio, "ghost", "ghost"), 2*time.Second); err != nil || s.Value != 0 {
			t.Errorf("ghost with or vector(0) = %v, %v; want 0", s.Value, err)
		}
		// ... and without it the answer is inconclusive, not a pass.
		_, err = q(`sum(rate(edge_requests_total{backend="ghost"}[$window]))`, 2*time.Second)
		if !errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), "or vector(0)") {
			t.Errorf("ghost without or vector(0): err = %v", err)
		}
	})

	t.Run("latency percentile", func(t *testing.T) {
		expr := `histogram_quantile(%g, sum by (le) (rate(edge_request_duration_seconds_bucket{backend="canary"}[$window])))`
		for _, c := range []struct{ q, want float64 }{{0.5, 0.1}, {0.75, 0.3}} {
			s, err := q(fmt.Sprintf(expr, c.q), 2*time.Second)
			if err != nil || math.Abs(s.Value-c.want) > 1e-9 {
				t.Errorf("p%g = %v, %v; want %v", c.q*100, s.Value, err, c.want)
			}
		}
	})

	t.Run("range query gives raw values", func(t *testing.T) {
		// The server has only just started: poll until the window holds a few points.
		rq := metrics.Query{
			Expr:   `sum(rate(edge_requests_total{backend="canary"}[1s]))`,
			Window: 3 * time.Second, Step: 250 * time.Millisecond,
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, err := p.Query(ctx, rq)
			if err == nil && len(s.Values) >= 4 {
				if s.Value != s.Values[len(s.Values)-1] || time.Since(s.At) > time.Minute {
					t.Errorf("range: Value %v is not the last of %v, or At %v is stale", s.Value, s.Values, s.At)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("range: %+v, %v; want at least 4 values", s, err)
			}
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	})

	t.Run("result shapes", func(t *testing.T) {
		if s, err := q(`scalar(sum(edge_requests_total{backend="canary"}))`, 0); err != nil || !(s.Value > 0) {
			t.Errorf("scalar = %v, %v", s.Value, err)
		}
		if _, err := q(`0/0`, 0); !errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("NaN: err = %v, want inconclusive", err)
		}
		if _, err := q(`edge_requests_total`, 0); err == nil || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("many series: err = %v", err)
		}
		if _, err := q(`sum(`, 0); err == nil || errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), "bad_data") {
			t.Errorf("bad query: err = %v", err)
		}
		if _, err := q(`rate(x[$window])`, 0); err == nil || !strings.Contains(err.Error(), "window") {
			t.Errorf("window unset: err = %v", err)
		}
	})
}

func TestBearerTokenAndErrors(t *testing.T) {
	var gotAuth, gotQuery string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		_ = r.ParseForm()
		gotQuery = r.Form.Get("query")
		switch gotQuery {
		case "up":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"3.5"]}}`)
		case "matrix":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"string","result":[1700000000,"x"]}}`)
		case "teapot":
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprint(w, `not json`)
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"status":"error","errorType":"execution","error":"boom"}`)
		}
	}))
	defer api.Close()
	t.Setenv(secretref.AllowEnv, "PROM_TEST_*")
	t.Setenv("PROM_TEST_TOKEN", "tok3n")
	p, err := New(map[string]string{"url": api.URL, "token": "env:PROM_TEST_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := p.Query(ctx, metrics.Query{Expr: "up"})
	if err != nil || s.Value != 3.5 || !s.At.Equal(time.Unix(1700000000, 5e8)) {
		t.Fatalf("scalar = %+v, %v", s, err)
	}
	if gotAuth != "Bearer tok3n" {
		t.Errorf("Authorization = %q", gotAuth)
	}
	if _, err := p.Query(ctx, metrics.Query{Expr: "rate(x[$window])", Window: 90 * time.Second}); err == nil || gotQuery != "rate(x[90s])" {
		t.Errorf("window substitution sent %q (err %v)", gotQuery, err)
	}
	for expr, want := range map[string]string{"boom": "execution: boom", "teapot": "HTTP 418", "matrix": `"string" not supported`} {
		if _, err := p.Query(ctx, metrics.Query{Expr: expr}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", expr, err, want)
		}
	}
	if _, err := New(map[string]string{"url": api.URL, "token": "env:PROM_TEST_UNSET"}); err == nil {
		t.Error("unset token variable: no error")
	}
	if _, err := New(map[string]string{}); err == nil {
		t.Error("no url: no error")
	}
	if _, err := New(map[string]string{"url": api.URL, "bearer": "x"}); err == nil {
		t.Error("unknown option: no error")
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Minute: "60s", 250 * time.Millisecond: "250ms", 90 * time.Second: "90s", time.Hour: "3600s"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestNewRefusesMetadataURL(t *testing.T) {
	if _, err := New(map[string]string{"url": "http://0xa9fea9fe/"}); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("New with the metadata address: %v", err)
	}
}
