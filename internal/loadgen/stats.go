package loadgen

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Stats are the totals of a load run, or of an interval of one (see Sub).
type Stats struct {
	// Requests counts the requests finished, answered or not.
	Requests int64
	// Errors counts the requests that got no answer: refused connections,
	// resets, timeouts.
	Errors int64
	// ByStatus counts the answers by HTTP status.
	ByStatus map[int]int64
	// ByVersion counts the answers by their X-App-Version header; answers
	// without one count under "".
	ByVersion map[string]int64
	// ServerErrors counts the answers with a 5xx status.
	ServerErrors int64
	// Skipped counts the ticks that sent no request because every worker
	// was busy: the rate achieved fell short of Options.Rate by this much.
	Skipped int64
	// P50 and P99 are latency percentiles of the answered requests, from
	// sending the request to reading the whole body, within 12.5%.
	P50, P99 time.Duration
	// Started is when the run (or the interval) began; Elapsed is how long
	// it lasted, up to the snapshot or to the end of the run.
	Started time.Time
	Elapsed time.Duration

	latency histogram
}

// Sub returns the stats of the interval between an earlier snapshot prev
// and s, of the same run: what a per-second progress line shows.
func (s Stats) Sub(prev Stats) Stats {
	out := Stats{
		Requests:     s.Requests - prev.Requests,
		Errors:       s.Errors - prev.Errors,
		ByStatus:     subCounts(s.ByStatus, prev.ByStatus),
		ByVersion:    subCounts(s.ByVersion, prev.ByVersion),
		ServerErrors: s.ServerErrors - prev.ServerErrors,
		Skipped:      s.Skipped - prev.Skipped,
		Started:      prev.Started.Add(prev.Elapsed),
		Elapsed:      s.Elapsed - prev.Elapsed,
		latency:      s.latency.sub(&prev.latency),
	}
	if prev.Started.IsZero() {
		out.Started = s.Started // prev is the zero Stats: the interval is the run
	}
	out.percentiles()
	return out
}

// subCounts returns the non-zero differences cur - prev.
func subCounts[K comparable](cur, prev map[K]int64) map[K]int64 {
	out := make(map[K]int64, len(cur))
	for k, n := range cur {
		if d := n - prev[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (s *Stats) percentiles() {
	s.P50 = s.latency.quantile(0.50)
	s.P99 = s.latency.quantile(0.99)
}

// String returns one line for a human, for example
//
//	1520 req  50/s  5xx 0.0%  v1 90%  v2 10%  p99 3ms
//
// with the versions' shares of the answers, sorted by version, and the
// transport errors and skipped ticks only when there were some.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d req  %.0f/s  5xx %.1f%%", s.Requests, s.rate(), percent(s.ServerErrors, s.Requests))
	if s.Errors > 0 {
		fmt.Fprintf(&b, "  errors %d", s.Errors)
	}
	var answered int64
	for _, n := range s.ByVersion {
		answered += n
	}
	for _, v := range slices.Sorted(maps.Keys(s.ByVersion)) {
		name := v
		if name == "" {
			name = "unversioned"
		}
		fmt.Fprintf(&b, "  %s %.0f%%", name, percent(s.ByVersion[v], answered))
	}
	fmt.Fprintf(&b, "  p99 %v", round(s.P99))
	if s.Skipped > 0 {
		fmt.Fprintf(&b, "  skipped %d", s.Skipped)
	}
	return b.String()
}

// rate returns the requests per second over Elapsed.
func (s Stats) rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

func percent(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// round keeps two or three significant digits: the histogram is not more
// precise than that, and a line of "3.217ms" reads worse than "3.2ms".
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
