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

// TestAppendAllKeepsOrderWithOneSync: records a workflow writes together
// land in order, next to each other although other appends race them, with
// one fsync for the group; an invalid one writes none of them; a retry
// writes none twice.
func TestAppendAllKeepsOrderWithOneSync(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "audit.jsonl"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := l.Append(t.Context(), entry(100+i)); err != nil {
				t.Errorf("Append: %v", err)
			}
		})
	}
	group := []Entry{entry(1), entry(2), entry(3)}
	stored, err := l.AppendAll(t.Context(), group)
	wg.Wait()
	if err != nil {
		t.Fatalf("AppendAll: %v", err)
	}
	for i := 1; i < len(stored); i++ {
		if stored[i].Seq != stored[i-1].Seq+1 || stored[i].ID != group[i].ID {
			t.Fatalf("stored %d as seq %d after seq %d: want the group in order, side by side", i, stored[i].Seq, stored[i-1].Seq)
		}
	}
	l.mu.Lock()
	before := l.batch.syncs
	l.mu.Unlock()
	if _, err := l.AppendAll(t.Context(), []Entry{entry(6), entry(7), entry(8)}); err != nil {
		t.Fatalf("AppendAll: %v", err)
	}
	l.mu.Lock()
	syncs := l.batch.syncs - before
	l.mu.Unlock()
	if syncs != 1 {
		t.Errorf("a group of 3 took %d fsyncs, want 1", syncs)
	}

	again, err := l.AppendAll(t.Context(), group)
	if err != nil || again[2].Seq != stored[2].Seq {
		t.Fatalf("a retry of the group: %v, seq %d, want the stored seq %d", err, again[2].Seq, stored[2].Seq)
	}
	bad := entry(4)
	bad.ID = ""
	if _, err := l.AppendAll(t.Context(), []Entry{entry(5), bad}); err == nil {
		t.Fatal("a group with an entry without ID was taken")
	}
	assertUniqueComplete(t, l.path, 3+8+3)
}
