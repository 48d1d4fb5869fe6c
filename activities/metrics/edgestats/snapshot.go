package edgestats

import (
	"math"
	"sort"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
)

// snapshot is one backend's counters at one scrape, or the difference of two.
type snapshot struct {
	at      time.Time
	elapsed time.Duration // set on differences
	seen    bool
	total   float64
	errors  float64
	buckets map[float64]float64 // upper bound (le) -> cumulative count
}

// take extracts backend's counters from a scrape.
func take(samples []sample, backend string, at time.Time) snapshot {
	s := snapshot{at: at, buckets: map[float64]float64{}}
	for _, x := range samples {
		if x.labels["backend"] != backend {
			continue
		}
		switch x.name {
		case RequestsTotal:
			s.seen = true
			s.total += x.value
			if x.labels["code_class"] == "5xx" {
				s.errors += x.value
			}
		case DurationBuckets:
			le, err := parseValue(x.labels["le"])
			if err != nil {
				continue
			}
			s.seen = true
			s.buckets[le] += x.value
		}
	}
	return s
}

// minus returns cur - prev; a counter that went down restarted, so its
// current value is the delta.
func (cur snapshot) minus(prev snapshot) snapshot {
	d := snapshot{at: cur.at, elapsed: cur.at.Sub(prev.at), seen: true, buckets: map[float64]float64{}}
	d.total, d.errors = delta(cur.total, prev.total), delta(cur.errors, prev.errors)
	reset := cur.total < prev.total
	for le, c := range cur.buckets {
		if reset {
			d.buckets[le] = c
		} else {
			d.buckets[le] = delta(c, prev.buckets[le])
		}
	}
	return d
}

func delta(cur, prev float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// quantile estimates the q quantile from cumulative buckets the way PromQL's
// histogram_quantile does: find the bucket holding rank q*count and
// interpolate linearly inside it; the lowest bucket starts at 0; a rank in the
// +Inf bucket answers the highest finite bound.
func quantile(q float64, buckets map[float64]float64) (float64, error) {
	les := make([]float64, 0, len(buckets))
	for le := range buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) < 2 || !math.IsInf(les[len(les)-1], 1) {
		return 0, metrics.Inconclusivef("latency histogram needs finite buckets and a +Inf bucket")
	}
	// Cumulative counts must not decrease; scrapes are not atomic, so clamp.
	counts := make([]float64, len(les))
	for i, le := range les {
		counts[i] = buckets[le]
		if i > 0 && counts[i] < counts[i-1] {
			counts[i] = counts[i-1]
		}
	}
	total := counts[len(counts)-1]
	if total < MinRequests {
		// A p99 over three requests is the slowest of three: noise that
		// could fail, or pass, a release on its own.
		return 0, metrics.Inconclusivef("only %g requests in the measured interval, need at least %d for a latency quantile", total, MinRequests)
	}
	rank := q * total
	i := sort.Search(len(counts), func(i int) bool { return counts[i] >= rank })
	if i == len(les)-1 {
		return les[len(les)-2], nil
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = les[i-1], counts[i-1]
	} else if les[0] <= 0 {
		return les[0], nil
	}
	upper := les[i]
	if counts[i] == below {
		return upper, nil
	}
	return lower + (upper-lower)*(rank-below)/(counts[i]-below), nil
}
