package slackin

import (
	"sync"
	"time"
)

// dedupWindow is how long a delivery is remembered. Slack retries an
// unanswered request within about a minute; ten leaves a margin.
const dedupWindow = 10 * time.Minute

// dedupMax bounds memory when clicks arrive faster than they expire.
const dedupMax = 10000

// dedup remembers recent deliveries so the same click delivered twice has one
// effect. It lives in memory: after a worker restart a redelivered approve
// reaches the workflow again and the Update validator refuses it (a person
// cannot approve twice), without writing to history.
type dedup struct {
	mu    sync.Mutex
	seen  map[string]time.Time
	order []entry // oldest first; times are non-decreasing unless the clock steps back
}

type entry struct {
	key string
	at  time.Time
}

func newDedup() *dedup { return &dedup{seen: map[string]time.Time{}} }

// first records key at now and reports whether it was not seen within the
// window.
func (d *dedup) first(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if at, ok := d.seen[key]; ok && now.Sub(at) < dedupWindow {
		return false
	}
	d.seen[key] = now
	d.order = append(d.order, entry{key, now})
	return true
}

// expire forgets entries older than the window and, past dedupMax, the
// oldest ones.
func (d *dedup) expire(now time.Time) {
	drop := 0
	for drop < len(d.order) && (now.Sub(d.order[drop].at) >= dedupWindow || len(d.order)-drop >= dedupMax) {
		e := d.order[drop]
		if d.seen[e.key].Equal(e.at) {
			delete(d.seen, e.key)
		}
		drop++
	}
	d.order = d.order[drop:]
}
