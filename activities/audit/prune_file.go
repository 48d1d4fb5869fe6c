package audit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Prune removes the entries at the start of the file older than in.Before
// and appends an ActionPruned entry recording them and the anchor. It
// verifies the whole file first and refuses a broken one: pruning must never
// destroy the evidence of an edit. The file is rewritten atomically: the kept
// lines, byte for byte, and the new entry go to a temporary file that is
// synced and renamed over the log under the exclusive lock. Other processes
// holding the old file notice the rename at their next lock and reopen.
func (l *Log) Prune(_ context.Context, in PruneInput) (PruneResult, error) {
	if l == nil {
		return PruneResult{}, ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return PruneResult{}, ErrClosed
	}
	unlock, err := l.lockCurrent(lockExclusive)
	if err != nil {
		return PruneResult{}, err
	}
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	all, sizes, c, err := l.readVerified()
	if err != nil {
		return PruneResult{}, fmt.Errorf("audit log %s does not verify, nothing pruned: %w", l.path, err)
	}
	// A log that no longer reaches its checkpoint is not pruned: the prune
	// would hide the cut.
	if l.signing.Signer != nil {
		err := l.catchUp(true)
		if err == nil {
			err = l.syncCheckpoint()
		}
		if err != nil {
			return PruneResult{}, fmt.Errorf("nothing pruned: %w", err)
		}
	}
	pruned, n, err := planPrune(all, &c, in)
	if err == nil && n > 0 {
		pruned, err = signEntry(pruned, l.signing.Signer)
	}
	if err != nil || n == 0 {
		return PruneResult{}, err
	}
	var from int64
	for _, s := range sizes[:n] {
		from += int64(s)
	}
	var to int64 = from
	for _, s := range sizes[n:] {
		to += int64(s)
	}
	next, err := l.replace(from, to, pruned)
	if err != nil {
		return PruneResult{}, err
	}
	// Switch to the new file while still holding its lock; the old file's
	// lock must be released before its descriptor is closed.
	unlock()
	unlock = nil
	_ = l.f.Close()
	l.f, l.offset, l.chain, l.byID, l.expect = next.f, 0, chain{}, make(map[string]Entry), Entry{}
	err = l.catchUp(false)
	if err == nil {
		err = l.writeCheckpoint()
	}
	next.unlock()
	if err != nil {
		return PruneResult{}, fmt.Errorf("audit log %s after prune: %w", l.path, err)
	}
	return PruneResult{Removed: int64(n), Entry: pruned}, nil
}

// readVerified reads and verifies the whole file from its start, returning
// its entries, the length of each line and the chain's tail. A torn last line
// is left out, as a repair would.
func (l *Log) readVerified() ([]Entry, []int, chain, error) {
	var c chain
	fi, err := l.f.Stat()
	if err != nil {
		return nil, nil, c, fmt.Errorf("stat audit log %s: %w", l.path, err)
	}
	var all []Entry
	var sizes []int
	res, err := scan(io.NewSectionReader(l.f, 0, fi.Size()), &c, func(e Entry, size int) {
		all, sizes = append(all, e), append(sizes, size)
	})
	if err == nil {
		err = c.finish()
	}
	if err == nil && res.tail > 0 {
		slog.Warn("audit log: prune drops a torn last line left by a crashed writer", "path", l.path, "bytes", res.tail)
	}
	return all, sizes, c, err
}

// lockedFile is an open, exclusively locked file.
type lockedFile struct {
	f      *os.File
	unlock func()
}

// replace writes bytes [from, to) of the current file and then the line of e
// to a temporary file beside it, syncs it, locks it and renames it over the
// path. It returns the new file, still locked.
func (l *Log) replace(from, to int64, e Entry) (lockedFile, error) {
	line, err := canonical(e)
	if err != nil {
		return lockedFile{}, err
	}
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(l.path)+".prune-*")
	if err != nil {
		return lockedFile{}, fmt.Errorf("prune audit log %s: %w", l.path, err)
	}
	fail := func(err error) (lockedFile, error) {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return lockedFile{}, fmt.Errorf("prune audit log %s: %w; the log is unchanged", l.path, err)
	}
	if _, err := io.Copy(tmp, io.NewSectionReader(l.f, from, to-from)); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(append(line, '\n')); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	next, err := os.OpenFile(tmp.Name(), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fail(err)
	}
	unlock, err := lockFile(next, lockExclusive)
	if err != nil {
		_ = next.Close()
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		unlock()
		_ = next.Close()
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		// The rename happened; only its durability across a power cut is in doubt.
		slog.Warn("audit log: cannot sync the directory after prune", "path", l.path, "error", err)
	}
	return lockedFile{f: next, unlock: unlock}, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}
