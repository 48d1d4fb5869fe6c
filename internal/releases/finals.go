package releases

import (
	"sync"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// maxFinals bounds a FinalCache: past it the cache starts again, which
// costs one more read per release and never a wrong answer.
const maxFinals = 20000

// FinalCache keeps the final status of ended releases. A release that ended
// never changes, so a process that reads the same releases again and again
// (the worker's DORA gauges, once a minute) reads each history once.
type FinalCache struct {
	mu sync.Mutex
	m  map[string]workflows.ReleaseStatus
}

// key names one run of a release: the ID, and its start, since a release
// started again under the same ID is another run with another end.
func finalKey(id string, started time.Time) string {
	return id + "@" + started.UTC().Format(time.RFC3339Nano)
}

func (f *FinalCache) get(id string, started time.Time) (workflows.ReleaseStatus, bool) {
	if f == nil {
		return workflows.ReleaseStatus{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.m[finalKey(id, started)]
	return st, ok
}

func (f *FinalCache) put(id string, started time.Time, st workflows.ReleaseStatus) {
	if f == nil || !st.Finished() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m) >= maxFinals {
		f.m = map[string]workflows.ReleaseStatus{}
	}
	f.m[finalKey(id, started)] = st
}

// Len is how many final statuses the cache holds.
func (f *FinalCache) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}
