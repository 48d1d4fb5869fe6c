package loadgen

import (
	"maps"
	"testing"
	"time"
)

// TestHistogram: every latency is reported within 12.5%, bucket order
// follows latency order, and the percentiles land where they should.
func TestHistogram(t *testing.T) {
	prev := -1
	for d := time.Duration(0); d < 24*time.Hour; d = d*9/8 + time.Microsecond {
		i := bucket(d)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucket(%v) = %d after %d", d, i, prev)
		}
		prev = i
		us := d.Truncate(time.Microsecond)
		if got := value(i); got < us-us/8 || got > us+us/8 {
			t.Errorf("bucket(%v) reports %v", d, got)
		}
	}
	if bucket(1000*24*time.Hour) != histBuckets-1 || bucket(-time.Second) != 0 {
		t.Error("latencies out of range are not clamped to the end buckets")
	}

	var h histogram
	if h.quantile(0.5) != 0 {
		t.Errorf("empty histogram P50 = %v, want 0", h.quantile(0.5))
	}
	for ms := 1; ms <= 1000; ms++ {
		h.add(time.Duration(ms) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		if got := h.quantile(c.q); got < c.want*7/8 || got > c.want*9/8 {
			t.Errorf("quantile(%v) = %v, want about %v", c.q, got, c.want)
		}
	}
}

// TestSub: the interval between two snapshots has only its own requests,
// versions and latencies.
func TestSub(t *testing.T) {
	t0 := time.Now()
	prev := stats(t0, 20*time.Second, map[string]int64{"v1": 1000}, time.Millisecond)
	cur := stats(t0, 30*time.Second, map[string]int64{"v1": 1450, "v2": 50}, time.Millisecond)
	cur.latency = prev.latency
	for range 500 {
		cur.latency.add(100 * time.Millisecond) // the interval's: slower
	}
	cur.percentiles()

	d := cur.Sub(prev)
	if d.Requests != 500 || !maps.Equal(d.ByVersion, map[string]int64{"v1": 450, "v2": 50}) || d.ByStatus[200] != 500 {
		t.Errorf("interval counts %+v, want 500 requests: 450 v1, 50 v2", d)
	}
	if !d.Started.Equal(t0.Add(20*time.Second)) || d.Elapsed != 10*time.Second {
		t.Errorf("interval from %v for %v, want from t0+20s for 10s", d.Started.Sub(t0), d.Elapsed)
	}
	if d.P50 < 87*time.Millisecond || cur.P50 > 2*time.Millisecond {
		t.Errorf("P50 of the interval %v, of the run %v; want ~100ms and ~1ms", d.P50, cur.P50)
	}
	if whole := cur.Sub(Stats{}); whole.Requests != cur.Requests || !whole.Started.Equal(t0) || whole.P99 != cur.P99 {
		t.Errorf("Sub(Stats{}) = %+v, want the run itself %+v", whole, cur)
	}
	if !maps.Equal(prev.Sub(prev).ByVersion, map[string]int64{}) {
		t.Errorf("an empty interval counts versions %v", prev.Sub(prev).ByVersion)
	}
}

// TestString: the line the demo prints.
func TestString(t *testing.T) {
	s := stats(time.Now(), 30400*time.Millisecond, map[string]int64{"v1": 1368, "v2": 152}, 4*time.Millisecond)
	if got, want := s.String(), "1520 req  50/s  5xx 0.0%  v1 90%  v2 10%  p99 4ms"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	s = stats(time.Now(), time.Second, map[string]int64{"v1": 6, "": 2}, 250*time.Microsecond)
	s.Requests, s.Errors, s.ServerErrors, s.Skipped = 10, 2, 5, 3
	if got, want := s.String(), "10 req  10/s  5xx 50.0%  errors 2  unversioned 25%  v1 75%  p99 248µs  skipped 3"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (Stats{}).String(), "0 req  0/s  5xx 0.0%  p99 0s"; got != want {
		t.Errorf("String() of nothing = %q, want %q", got, want)
	}
}

// stats returns the totals of a run of 200s by version, all taking latency.
func stats(start time.Time, elapsed time.Duration, byVersion map[string]int64, latency time.Duration) Stats {
	s := Stats{ByVersion: byVersion, Started: start, Elapsed: elapsed}
	for _, n := range byVersion {
		s.Requests += n
		for range n {
			s.latency.add(latency)
		}
	}
	s.ByStatus = map[int]int64{200: s.Requests}
	s.percentiles()
	return s
}
