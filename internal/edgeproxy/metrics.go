package edgeproxy

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// DurationBuckets are the upper bounds, in seconds, of the request duration
// histogram: 5 ms to 10 s, the range where web latency SLOs live.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// codeClasses are exported for every backend even at zero, so error ratios
// in PromQL have both series from the first scrape.
var codeClasses = []string{"2xx", "3xx", "4xx", "5xx"}

// stats are the golden signals of one backend. All fields are atomics, so
// the request path never takes a lock to record.
type stats struct {
	byClass [6]atomic.Uint64 // index status/100; 0 holds anything out of range
	// buckets holds one count per DurationBuckets entry, not cumulative,
	// and a last one for requests above the top bound. A scrape sums them
	// in one pass for every cumulative bucket, +Inf and _count alike: a
	// separate count, read after the buckets, would show the requests
	// finished in between as slower than the top bound.
	buckets []atomic.Uint64
	sumNano atomic.Uint64
}

func newStats() *stats {
	return &stats{buckets: make([]atomic.Uint64, len(DurationBuckets)+1)}
}

// observe records one finished request.
func (s *stats) observe(status int, d time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.byClass[class].Add(1)
	secs := d.Seconds()
	i := 0
	for i < len(DurationBuckets) && secs > DurationBuckets[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumNano.Add(uint64(d.Nanoseconds()))
}

// metricsRow is what one backend contributes to a scrape.
type metricsRow struct {
	name     string
	weight   int
	inflight int64
	stats    *stats
}

// writeMetrics renders the rows in the Prometheus text exposition format
// (version 0.0.4). Rows come sorted by name, so scrapes are stable.
func writeMetrics(w io.Writer, rows []metricsRow) error {
	bw := bufio.NewWriter(w)
	header(bw, "edge_requests_total", "counter", "Requests proxied to a backend, by status code class.")
	for _, r := range rows {
		for _, c := range codeClasses {
			fmt.Fprintf(bw, "edge_requests_total{backend=%q,code_class=%q} %d\n", r.name, c, r.stats.byClass[c[0]-'0'].Load())
		}
	}
	header(bw, "edge_request_duration_seconds", "histogram", "Time from picking a backend to the end of its response.")
	for _, r := range rows {
		writeHistogram(bw, r)
	}
	header(bw, "edge_backend_weight", "gauge", "Current routing weight of a backend (0..100).")
	for _, r := range rows {
		fmt.Fprintf(bw, "edge_backend_weight{backend=%q} %d\n", r.name, r.weight)
	}
	header(bw, "edge_inflight", "gauge", "Requests currently being proxied to a backend.")
	for _, r := range rows {
		fmt.Fprintf(bw, "edge_inflight{backend=%q} %d\n", r.name, r.inflight)
	}
	return bw.Flush()
}

func header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func writeHistogram(w io.Writer, r metricsRow) {
	var cum uint64
	for i, le := range DurationBuckets {
		cum += r.stats.buckets[i].Load()
		fmt.Fprintf(w, "edge_request_duration_seconds_bucket{backend=%q,le=%q} %d\n", r.name, formatFloat(le), cum)
	}
	count := cum + r.stats.buckets[len(DurationBuckets)].Load()
	fmt.Fprintf(w, "edge_request_duration_seconds_bucket{backend=%q,le=\"+Inf\"} %d\n", r.name, count)
	sum := float64(r.stats.sumNano.Load()) / 1e9
	fmt.Fprintf(w, "edge_request_duration_seconds_sum{backend=%q} %s\n", r.name, formatFloat(sum))
	fmt.Fprintf(w, "edge_request_duration_seconds_count{backend=%q} %d\n", r.name, count)
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
