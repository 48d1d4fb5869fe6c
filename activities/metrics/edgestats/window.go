package edgestats

import (
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
)

// Bounds of a backend's snapshot history.
const (
	// maxSnapshots caps the history whatever the windows and query rate.
	maxSnapshots = 4096
	// snapshotsPerWindow is how finely the largest window is sampled: a
	// scrape less than maxWindow/snapshotsPerWindow after the newest kept
	// snapshot answers its query but is not kept, so that several checks
	// querying every second do not fill the history with near-duplicates.
	snapshotsPerWindow = 1024
)

// history is the recent scrapes of one backend, for windowed queries. The
// snapshots are reset-adjusted: a counter that went down (proxy restart) keeps
// counting from the value it had, as Prometheus's increase() does, so the
// difference of any two snapshots is the traffic between them even across a
// restart.
type history struct {
	snaps     []snapshot    // adjusted, oldest first
	last      snapshot      // the latest raw scrape, to detect resets
	offset    snapshot      // what resets took away, per counter
	maxWindow time.Duration // largest window asked for; bounds the age kept
}

// add records a raw scrape asked for with window and returns it adjusted.
func (h *history) add(raw snapshot, window time.Duration) snapshot {
	h.maxWindow = max(h.maxWindow, window)
	if h.offset.buckets == nil { // the first scrape: nothing to compare with
		h.offset.buckets = map[float64]float64{}
	} else {
		h.offset.total += lost(raw.total, h.last.total)
		h.offset.errors += lost(raw.errors, h.last.errors)
		for le, c := range raw.buckets {
			h.offset.buckets[le] += lost(c, h.last.buckets[le])
		}
	}
	h.last = raw
	adj := snapshot{at: raw.at, seen: true, total: raw.total + h.offset.total, errors: raw.errors + h.offset.errors, buckets: map[float64]float64{}}
	for le, c := range raw.buckets {
		adj.buckets[le] = c + h.offset.buckets[le]
	}
	if n := len(h.snaps); n == 0 || adj.at.Sub(h.snaps[n-1].at) >= h.maxWindow/snapshotsPerWindow {
		h.snaps = append(h.snaps, adj)
	}
	h.prune(adj.at)
	return adj
}

// lost is what a counter lost to a reset between two scrapes: its previous
// value if it went down, else nothing.
func lost(cur, prev float64) float64 {
	if cur < prev {
		return prev
	}
	return 0
}

// stale is how old a snapshot may be and still start a window: older ones
// would dilute the window's answer with traffic from before it.
func stale(window time.Duration) time.Duration { return window + window/2 }

// prune drops snapshots too old for any window asked for, and the oldest ones
// beyond maxSnapshots.
func (h *history) prune(now time.Time) {
	i := 0
	for i < len(h.snaps) && now.Sub(h.snaps[i].at) > stale(h.maxWindow) {
		i++
	}
	i = max(i, len(h.snaps)-maxSnapshots)
	if i > 0 {
		h.snaps = append(h.snaps[:0:0], h.snaps[i:]...)
	}
}

// start returns the snapshot a window ending at cur starts from: the newest
// one taken at or before cur.at-window, or, while none is that old yet, the
// oldest one if it covers at least half the window. Snapshots older than
// stale(window) do not count, nor do those taken before since (when set).
func (h *history) start(cur snapshot, window time.Duration, since time.Time) (snapshot, error) {
	var oldest *snapshot
	for i := len(h.snaps) - 1; i >= 0; i-- {
		s := &h.snaps[i]
		age := cur.at.Sub(s.at)
		if age <= 0 {
			continue // cur itself, or a scrape from the same instant
		}
		if age > stale(window) || s.at.Before(since) {
			break
		}
		if age >= window {
			return *s, nil
		}
		oldest = s
	}
	if oldest != nil && cur.at.Sub(oldest.at) >= window/2 {
		return *oldest, nil
	}
	have := time.Duration(0)
	if oldest != nil {
		have = cur.at.Sub(oldest.at)
	}
	return snapshot{}, metrics.Inconclusivef("only %s of data, need at least %s of the %s window (and a query at least every %s)",
		have.Round(time.Millisecond), window/2, window, stale(window))
}
