package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// The latency histogram has fixed buckets so that memory stays the same
// however long the load runs, and so that two snapshots subtract into the
// histogram of the interval between them. Buckets are log-linear over
// microseconds: exact below 8µs, then 8 buckets per power of two, which keeps
// any value within 12.5% of the one reported for its bucket.
const (
	subBits     = 3
	subBuckets  = 1 << subBits
	maxBits     = 40 // 2^40µs is 12 days: anything longer goes in the last bucket
	histBuckets = (maxBits - subBits + 1) * subBuckets
)

// histogram counts latencies per bucket.
type histogram [histBuckets]int64

// bucket returns the index of the bucket holding d.
func bucket(d time.Duration) int {
	us := uint64(max(d.Microseconds(), 0))
	if us < subBuckets {
		return int(us)
	}
	if us >= 1<<maxBits {
		return histBuckets - 1
	}
	shift := bits.Len64(us) - 1 - subBits
	return shift*subBuckets + int(us>>shift)
}

// value returns the duration reported for bucket i: its midpoint.
func value(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i) * time.Microsecond
	}
	shift := i/subBuckets - 1
	lower := uint64(subBuckets+i%subBuckets) << shift
	width := uint64(1) << shift
	return time.Duration(lower+width/2) * time.Microsecond
}

func (h *histogram) add(d time.Duration) { h[bucket(d)]++ }

// sub returns the counts in h that are not in prev.
func (h *histogram) sub(prev *histogram) histogram {
	var out histogram
	for i := range h {
		out[i] = h[i] - prev[i]
	}
	return out
}

// quantile returns the latency below which a fraction q of the counts lie,
// or 0 when there are none.
func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(total))), 1)
	var seen int64
	for i, n := range h {
		if seen += n; seen >= rank {
			return value(i)
		}
	}
	return value(histBuckets - 1)
}
