package edgeproxy

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// One sample line of the text format: name{labels} value.
var sampleRE = regexp.MustCompile(`^([a-z_]+)\{((?:[a-z_]+="[^"]*",?)+)\} (\S+)$`)

func TestMetrics(t *testing.T) {
	ok := newUpstream(t, "ok", nil)
	bad := newUpstream(t, "bad", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	s := startEdge(t, "")
	putBackend(t, s, "ok", ok.srv.URL, 100)
	putBackend(t, s, "bad", bad.srv.URL, 0)
	hitProxy(t, s, 7)
	setWeights(t, s, map[string]int{"ok": 0, "bad": 100})
	hitProxy(t, s, 3)

	code, body := get(t, "http://"+s.AdminAddr()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	samples := parseMetrics(t, body)
	want := map[string]float64{
		`edge_requests_total{backend="ok",code_class="2xx"}`:            7,
		`edge_requests_total{backend="ok",code_class="5xx"}`:            0,
		`edge_requests_total{backend="bad",code_class="5xx"}`:           3,
		`edge_requests_total{backend="bad",code_class="2xx"}`:           0,
		`edge_request_duration_seconds_count{backend="ok"}`:             7,
		`edge_request_duration_seconds_bucket{backend="bad",le="+Inf"}`: 3,
		`edge_backend_weight{backend="bad"}`:                            100,
		`edge_backend_weight{backend="ok"}`:                             0,
		`edge_inflight{backend="ok"}`:                                   0,
	}
	for k, v := range want {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	checkBuckets(t, samples, "ok", 7)
	checkBuckets(t, samples, "bad", 3)
}

// parseMetrics checks every line's format and returns the samples by
// series (name plus labels as written).
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("malformed metrics line %q", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("line %q: value: %v", line, err)
		}
		out[m[1]+"{"+m[2]+"}"] = v
	}
	return out
}

// checkBuckets verifies every bucket is present, cumulative, and ends at
// the count.
func checkBuckets(t *testing.T, samples map[string]float64, backend string, count float64) {
	t.Helper()
	prev := 0.0
	for _, le := range DurationBuckets {
		key := `edge_request_duration_seconds_bucket{backend="` + backend + `",le="` + formatFloat(le) + `"}`
		v, ok := samples[key]
		if !ok || v < prev {
			t.Fatalf("%s = %v (present %v), want >= %v", key, v, ok, prev)
		}
		prev = v
	}
	if inf := samples[`edge_request_duration_seconds_bucket{backend="`+backend+`",le="+Inf"}`]; inf != count || prev > inf {
		t.Fatalf("%s: +Inf bucket %v, last bucket %v, want %v", backend, inf, prev, count)
	}
}

func BenchmarkProxy(b *testing.B) {
	up := newUpstream(b, "a", nil)
	s := startEdge(b, "")
	putBackend(b, s, "a", up.srv.URL, 100)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := "http://" + s.ProxyAddr() + "/"
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			drain(resp)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// TestHistogramScrapedWhileObserving scrapes while requests finish, all of
// them fast: no scrape may show a request above the top bucket. Before the
// fix the +Inf bucket was the count, read after the buckets, so requests
// recorded in between looked slower than 10 s, and a canary analysed over
// a short window under load saw a p99 of 10 s that never happened.
func TestHistogramScrapedWhileObserving(t *testing.T) {
	s := newStats()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					s.observe(http.StatusOK, time.Millisecond)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	top := `edge_request_duration_seconds_bucket{backend="b",le="` + formatFloat(DurationBuckets[len(DurationBuckets)-1]) + `"}`
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		if err := writeMetrics(&b, []metricsRow{{name: "b", stats: s}}); err != nil {
			t.Fatal(err)
		}
		m := parseMetrics(t, b.String())
		inf, count := m[`edge_request_duration_seconds_bucket{backend="b",le="+Inf"}`], m[`edge_request_duration_seconds_count{backend="b"}`]
		if inf != m[top] || count != inf {
			t.Fatalf("scrape %d: le=10 %v, +Inf %v, count %v: requests above 10 s that never happened", i, m[top], inf, count)
		}
	}
}
