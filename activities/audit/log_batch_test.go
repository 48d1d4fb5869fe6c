package audit

import (
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentAppendsShareSyncs checks the group commit: appends that
// arrive together are written with fewer fsyncs than appends, and the log
// still holds each once, in a chain that verifies.
func TestConcurrentAppendsShareSyncs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	const workers, each = 32, 10
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				if _, err := l.Append(t.Context(), entry(w*each+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	assertUniqueComplete(t, path, workers*each)
	l.mu.Lock()
	syncs := l.batch.syncs
	l.mu.Unlock()
	if syncs >= workers*each {
		t.Errorf("%d appends took %d fsyncs; want fewer: concurrent appends share one", workers*each, syncs)
	}
	t.Logf("%d appends, %d fsyncs", workers*each, syncs)
}
