package audit

import (
	"fmt"
	"sync"
)

// batcher is the group commit of a Log. Every append must be on disk
// before its activity reports success, and an fsync costs milliseconds: one
// per append, under the log's lock, capped a worker with hundreds of
// releases in flight at the audit log's pace (the scale benchmark). So
// appends that arrive while one is being written queue up, and the first of
// them then writes them all with one fsync and one checkpoint.
type batcher struct {
	mu      sync.Mutex
	queue   []*pendingAppend
	leading bool // an append is writing a batch
	syncs   int  // batches synced, for the tests
}

// pendingAppend is one Append waiting for its batch.
type pendingAppend struct {
	e    Entry
	out  Entry
	err  error
	done chan struct{} // closed once written (or failed)
	lead chan struct{} // closed when this append must write the next batch
}

// commit queues es, in order and together, and waits until a batch holding
// them is on disk. The first append finding no batch being written writes
// the queue itself. It returns the stored entries and the first error.
func (l *Log) commit(es ...Entry) ([]Entry, error) {
	ps := make([]*pendingAppend, len(es))
	for i, e := range es {
		ps[i] = &pendingAppend{e: e, done: make(chan struct{}), lead: make(chan struct{})}
	}
	b := &l.batch
	b.mu.Lock()
	b.queue = append(b.queue, ps...)
	if !b.leading {
		b.leading = true
		close(ps[0].lead)
	}
	b.mu.Unlock()
	out := make([]Entry, len(ps))
	var err error
	for i, p := range ps {
		select {
		case <-p.done:
		case <-p.lead:
			l.writeBatch()
			<-p.done
		}
		out[i] = p.out
		if err == nil {
			err = p.err
		}
	}
	return out, err
}

// writeBatch writes every queued append, then hands the lead to the first
// append queued meanwhile, so no caller writes for others forever.
func (l *Log) writeBatch() {
	b := &l.batch
	b.mu.Lock()
	batch := b.queue
	b.queue = nil
	b.mu.Unlock()
	l.appendAll(batch)
	for _, p := range batch {
		close(p.done)
	}
	b.mu.Lock()
	if len(b.queue) > 0 {
		close(b.queue[0].lead)
	} else {
		b.leading = false
	}
	b.mu.Unlock()
}

// appendAll writes the batch's new entries after the tail, syncs once and
// writes the checkpoint once. It is idempotent on each entry's ID, as
// Append is.
func (l *Log) appendAll(batch []*pendingAppend) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fail := func(ps []*pendingAppend, err error) {
		for _, p := range ps {
			p.out, p.err = Entry{}, err
		}
	}
	if l.f == nil {
		fail(batch, ErrClosed)
		return
	}
	// Entries are only removed by a prune, long after any retry: a known ID
	// needs no trip to the file, unless the checkpoint lags behind it.
	var todo []*pendingAppend
	for _, p := range batch {
		if got, ok := l.byID[p.e.ID]; ok && !l.checkpointBehind() {
			p.out = got
		} else {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return
	}
	unlock, err := l.lockCurrent(lockExclusive)
	if err != nil {
		fail(todo, err)
		return
	}
	defer unlock()
	if err := l.catchUp(true); err != nil {
		fail(todo, err)
		return
	}
	if err := l.syncCheckpoint(); err != nil {
		fail(todo, err)
		return
	}
	var written []*pendingAppend
	for _, p := range todo {
		if got, ok := l.byID[p.e.ID]; ok {
			p.out = got // appended by another process, or twice in this batch
			continue
		}
		if p.out, p.err = l.writeLine(p.e); p.err == nil {
			written = append(written, p)
		}
	}
	if len(written) == 0 {
		return
	}
	// The activities report success once this returns, and then never
	// retry, so the lines must be on disk by then.
	l.batch.syncs++
	if err := l.f.Sync(); err != nil {
		fail(written, fmt.Errorf("sync audit log %s: %w", l.path, err))
		return
	}
	// A failure here fails the appends; their retries find the entries by
	// ID and write the checkpoint then.
	if err := l.writeCheckpoint(); err != nil {
		fail(written, err)
	}
}
