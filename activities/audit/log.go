package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log is closed")

// Log is a file-backed audit log. It is safe for concurrent use, and several
// processes on one host may append to the same file: every append holds an
// exclusive flock while it reads what others wrote and adds its line. A prune
// replaces the file by renaming a rewritten one over it; a Log that finds its
// path naming another file reopens it and reads it again.
type Log struct {
	path string

	mu     sync.Mutex
	f      *os.File
	offset int64 // bytes of the file already read into chain and byID
	chain  chain
	byID   map[string]Entry
	// expect is the last entry read before the file was replaced: the new
	// file must still hold it, unless a prune removed it.
	expect Entry
	// signing signs new entries and keeps the checkpoint; cpSeq is the seq
	// this process last found or wrote there.
	signing Signing
	cpSeq   int64

	// batch queues concurrent appends so one fsync covers them all
	// (log_batch.go).
	batch batcher
}

// Open opens or creates the log at path, creating parent directories. The file is
// created with mode 0600 because entries name people and releases. Open reads the
// whole log once and fails if its chain is broken, so a tampered log is noticed
// when the worker starts rather than at the next release.
func Open(path string) (*Log, error) { return OpenSigned(path, Signing{}) }

// OpenSigned is Open for a worker that signs: every entry it appends is
// signed with sg.Signer and the checkpoint file sg.Checkpoint (default beside
// the log) is rewritten after each append. A log that no longer reaches the
// checkpoint, cut or emptied, is refused here and at every append, so a cut
// sequence number is never written again.
func OpenSigned(path string, sg Signing) (*Log, error) {
	if sg.Signer != nil && sg.Checkpoint == "" {
		sg.Checkpoint = DefaultCheckpoint(path)
	}
	if sg.Signer != nil {
		slog.Info("audit log: signing entries", "path", path, "key_id", sg.Signer.KeyID(), "checkpoint", sg.Checkpoint)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create audit log directory: %w", err)
	}
	// O_APPEND makes each write land at the current end even if another process
	// appended since our last read; O_RDWR lets us read with the same descriptor.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	l := &Log{path: path, f: f, byID: make(map[string]Entry), signing: sg}
	// A signing log may write the checkpoint, which needs the exclusive lock.
	how := lockShared
	if sg.Signer != nil {
		how = lockExclusive
	}
	unlock, err := l.lockCurrent(how)
	if err == nil {
		err = l.catchUp(false)
		if err == nil {
			err = l.syncCheckpoint()
		}
		unlock()
	}
	if err != nil {
		_ = l.f.Close()
		return nil, err
	}
	return l, nil
}

// Path returns the file the log writes to.
func (l *Log) Path() string { return l.path }

// String names the log for messages.
func (l *Log) String() string { return l.path }

// Read implements Reader: it reads the file as it is now, under a shared lock.
func (l *Log) Read(_ context.Context, filter Filter) ([]Entry, error) { return Read(l.path, filter) }

// Verify implements Reader: it verifies the file as it is now.
func (l *Log) Verify(context.Context) (VerifyResult, error) { return Verify(l.path) }

// Append writes e as the next entry and returns it with Seq, Prev and Hash set.
// It is idempotent on e.ID: if an entry with that ID is already in the file,
// written by this or any other process, Append returns that entry and writes
// nothing. Seq, Prev and Hash in e are ignored; Time is stored in UTC.
func (l *Log) Append(_ context.Context, e Entry) (Entry, error) {
	if err := validate(e); err != nil {
		return Entry{}, err
	}
	if l == nil {
		return Entry{}, ErrClosed
	}
	out, err := l.commit(e)
	return out[0], err
}

// AppendAll appends es in order, as Append does each, with one fsync: they
// are queued together, so no other append comes between them. An invalid
// entry fails them all before any is written.
func (l *Log) AppendAll(_ context.Context, es []Entry) ([]Entry, error) {
	for _, e := range es {
		if err := validate(e); err != nil {
			return nil, err
		}
	}
	if l == nil {
		return nil, ErrClosed
	}
	if len(es) == 0 {
		return nil, nil
	}
	return l.commit(es...)
}

// writeLine adds e after the current tail, not synced yet. The caller holds
// mu and the exclusive lock, and syncs (appendAll).
func (l *Log) writeLine(e Entry) (Entry, error) {
	e.Seq, e.Prev, e.Time, e.KeyID = l.chain.seq+1, l.chain.head, e.Time.UTC(), ""
	e, err := signEntry(e, l.signing.Signer)
	if err != nil {
		return Entry{}, err
	}
	line, err := canonical(e)
	if err != nil {
		return Entry{}, fmt.Errorf("%w %q: %v", ErrInvalidEntry, e.ID, err)
	}
	line = append(line, '\n')
	// One write call per line, so a crash leaves at most one torn last line.
	n, err := l.f.Write(line)
	if err != nil {
		l.dropTail(int64(n))
		return Entry{}, fmt.Errorf("append to audit log %s: %w", l.path, err)
	}
	if err := l.chain.accept(e); err != nil {
		return Entry{}, err // cannot happen: e was built from the chain's own tail
	}
	l.offset += int64(n)
	l.byID[e.ID] = e
	return e, nil
}

// lockCurrent takes the flock on the file the path names now. A prune by
// another process renames a new file over the path; appending to the old one
// would write where nobody reads, so after taking the lock it checks the path
// still names our file and, if not, reopens it and reads it from the start.
// The caller holds mu.
func (l *Log) lockCurrent(how int) (func(), error) {
	for {
		unlock, err := lockFile(l.f, how)
		if err != nil {
			return nil, fmt.Errorf("lock audit log %s: %w", l.path, err)
		}
		current, err := isCurrent(l.f, l.path)
		if err == nil && current {
			return unlock, nil
		}
		unlock()
		if err != nil {
			return nil, err
		}
		if err := l.reopen(); err != nil {
			return nil, err
		}
	}
}

// reopen switches to the file now at the path and forgets what was read, so
// the next catchUp verifies the new file from its start.
func (l *Log) reopen() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("reopen audit log %s after it was replaced: %w", l.path, err)
	}
	slog.Info("audit log: the file was replaced, by a prune in another process; reading it again", "path", l.path)
	_ = l.f.Close()
	if l.chain.seq > l.expect.Seq {
		l.expect = Entry{Seq: l.chain.seq, Hash: l.chain.head}
	}
	l.f, l.offset, l.chain, l.byID = f, 0, chain{}, make(map[string]Entry)
	return nil
}

// catchUp reads lines appended since the last read, by this or other processes,
// so the chain tail and the ID index are current. With repair set (the caller
// holds the exclusive lock) it cuts off a torn last line left by a writer that
// crashed mid-append; that writer's activity never completed and will retry.
func (l *Log) catchUp(repair bool) error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("stat audit log %s: %w", l.path, err)
	}
	if fi.Size() < l.offset {
		return fmt.Errorf("audit log %s shrank from %d to %d bytes: it was truncated or replaced; restore it from backup and run `runbook audit verify`",
			l.path, l.offset, fi.Size())
	}
	r := io.NewSectionReader(l.f, l.offset, fi.Size()-l.offset)
	res, err := scan(r, &l.chain, func(e Entry, _ int) { l.byID[e.ID] = e })
	l.offset += res.consumed
	if err == nil {
		err = l.chain.finish()
	}
	if err == nil {
		err = l.checkExpected()
	}
	if err != nil {
		return fmt.Errorf("audit log %s: %w; run `runbook audit verify` and restore the file from backup", l.path, err)
	}
	if repair && res.tail > 0 {
		slog.Warn("audit log: removing a torn last line left by a crashed writer",
			"path", l.path, "bytes", res.tail, "after_seq", l.chain.seq)
		return l.truncate()
	}
	return nil
}

// checkExpected checks, after a reopen, that the new file still holds the
// last entry read from the old one, or that a prune removed it: a file
// swapped for a shorter or different copy is not a prune.
func (l *Log) checkExpected() error {
	want := l.expect
	if want.Seq == 0 {
		return nil
	}
	l.expect = Entry{}
	if anchor, _ := l.chain.anchor(); want.Seq <= anchor {
		return nil
	}
	if l.chain.seq < want.Seq {
		return &ChainError{Seq: l.chain.seq + 1, Reason: fmt.Sprintf("the file was replaced by one ending at seq %d, but seq %d had been read: entries were cut off", l.chain.seq, want.Seq)}
	}
	got, err := l.entryAt(want.Seq)
	if err != nil || got.Hash != want.Hash {
		return &ChainError{Seq: want.Seq, Reason: "the file was replaced by one holding a different entry at this seq: it was rewritten"}
	}
	return nil
}

// entryAt finds the entry with seq in the index.
func (l *Log) entryAt(seq int64) (Entry, error) {
	for _, e := range l.byID {
		if e.Seq == seq {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("no entry %d", seq)
}

// dropTail removes the bytes of a failed partial write so the next line starts
// clean; if that fails too, the next catchUp repairs it.
func (l *Log) dropTail(written int64) {
	if written == 0 {
		return
	}
	if err := l.truncate(); err != nil {
		slog.Error("audit log: cannot remove a partial line", "path", l.path, "err", err)
	}
}

// truncate cuts the file back to the end of the last valid line.
func (l *Log) truncate() error {
	if err := l.f.Truncate(l.offset); err != nil {
		return fmt.Errorf("truncate torn line in audit log %s: %w", l.path, err)
	}
	return nil
}

// Close closes the file. Further appends return ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
