package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// VerifyResult summarises a verified log.
type VerifyResult struct {
	// Entries counts the entries that verified, up to the first broken one
	// (none when the start of the log is what is broken).
	Entries int64 `json:"entries"`
	// FirstSeq and LastSeq are the seqs of the first and last entries that
	// verified, 0 for an empty log.
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	// Head is the hash of the last entry that verified; compare it with a hash
	// recorded elsewhere to notice a log rewritten from some point on, or
	// entries cut off its end, which the chain alone cannot show.
	Head string `json:"head"`
	// AnchorSeq and AnchorHash are the last pruned entry the log starts
	// after, 0 and "" for a log that was never pruned.
	AnchorSeq  int64  `json:"anchor_seq"`
	AnchorHash string `json:"anchor_hash"`
	// BrokenSeq is the seq of the first broken entry, 0 if the chain is intact.
	BrokenSeq int64 `json:"broken_seq,omitempty"`
}

// Summary describes an intact chain in one line, e.g. "chain intact: 12
// entries, seq 31..42, anchored at seq 30 (hash 9f2c…)".
func (r VerifyResult) Summary() string {
	if r.Entries == 0 {
		return "chain intact: 0 entries"
	}
	s := fmt.Sprintf("chain intact: %d entries, seq %d..%d", r.Entries, r.FirstSeq, r.LastSeq)
	if r.AnchorSeq == 0 {
		return s + ", from the first entry"
	}
	return fmt.Sprintf("%s, anchored at seq %d (hash %s)", s, r.AnchorSeq, r.AnchorHash)
}

// result builds the VerifyResult of a read that ended with err.
func (c *chain) result(entries int64, err error) VerifyResult {
	res := VerifyResult{Entries: entries, FirstSeq: c.first, LastSeq: c.seq, Head: c.head}
	res.AnchorSeq, res.AnchorHash = c.anchor()
	if err != nil {
		res.BrokenSeq = brokenSeq(err)
		if brokenStart(err) {
			res = VerifyResult{BrokenSeq: res.BrokenSeq}
		}
	}
	return res
}

// brokenStart reports whether err says the start of the log is broken, so
// that none of the entries read verified.
func brokenStart(err error) bool {
	var ce *ChainError
	return errors.As(err, &ce) && ce.start
}

// Filter selects entries in Read; empty fields match everything.
type Filter struct {
	Release string
	Service string
	// Since and Until bound the entries' times (Since inclusive, Until
	// exclusive); zero means unbounded.
	Since, Until time.Time
}

// match reports whether e passes the filter.
func (f Filter) match(e Entry) bool {
	return (f.Release == "" || e.Release == f.Release) &&
		(f.Service == "" || e.Service == f.Service) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		(f.Until.IsZero() || e.Time.Before(f.Until))
}

// Verify re-computes every hash and link of the log at path. If the chain is
// broken, the error is a *ChainError naming the first broken entry (for example
// "entry 7: hash mismatch, the log was edited") and the result says how far the
// log was good. A torn last line from a crashed writer also counts as broken.
func Verify(path string) (VerifyResult, error) {
	var n int64
	c, err := readAll(path, func(Entry, int) { n++ })
	return c.result(n, err), err
}

// Read returns the entries of the log at path that match filter, in order. It
// checks the chain while reading; if it is broken, Read returns the entries
// before the break together with the *ChainError, so a caller can still show them
// but cannot mistake them for a verified log.
func Read(path string, filter Filter) ([]Entry, error) {
	var out []Entry
	_, err := readAll(path, func(e Entry, _ int) {
		if filter.match(e) {
			out = append(out, e)
		}
	})
	if brokenStart(err) {
		return nil, err
	}
	return out, err
}

// File reads and verifies the log file at its path without opening it for
// writing, so looking at a log never creates or repairs one. It is the Reader
// the CLI uses when no database is configured.
type File string

// Read implements Reader.
func (f File) Read(_ context.Context, filter Filter) ([]Entry, error) { return Read(string(f), filter) }

// Verify implements Reader.
func (f File) Verify(context.Context) (VerifyResult, error) { return Verify(string(f)) }

// String names the file.
func (f File) String() string { return string(f) }

// Close implements Reader; there is nothing to close.
func (File) Close() error { return nil }

// readAll scans the whole file under a shared lock, so it never sees a line a
// concurrent writer is halfway through.
func readAll(path string, fn func(Entry, int)) (chain, error) {
	var c chain
	f, unlock, err := openCurrent(path, lockShared)
	if err != nil {
		return c, err
	}
	defer func() { unlock(); _ = f.Close() }()
	res, err := scan(f, &c, fn)
	if err != nil {
		return c, err
	}
	if res.tail > 0 {
		return c, &ChainError{Seq: c.seq + 1, Line: c.line + 1,
			Reason: fmt.Sprintf("incomplete last line (%d bytes): a writer crashed mid-append; the next append removes it", res.tail)}
	}
	return c, c.finish()
}

// openCurrent opens path and locks it. A prune replaces the file by renaming
// a new one over it, so once the lock is held it checks that path still names
// the locked file, and starts over if not.
func openCurrent(path string, how int) (*os.File, func(), error) {
	for {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, fmt.Errorf("open audit log: %w", err)
		}
		unlock, err := lockFile(f, how)
		if err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("lock audit log %s: %w", path, err)
		}
		current, err := isCurrent(f, path)
		if err == nil && current {
			return f, unlock, nil
		}
		unlock()
		_ = f.Close()
		if err != nil {
			return nil, nil, err
		}
	}
}

// isCurrent reports whether path still names the open file f.
func isCurrent(f *os.File, path string) (bool, error) {
	held, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat audit log %s: %w", path, err)
	}
	named, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("audit log %s: %w; it was removed: restore it from backup", path, err)
	}
	return os.SameFile(held, named), nil
}

// brokenSeq extracts the broken seq from a *ChainError, 0 for other errors.
func brokenSeq(err error) int64 {
	var ce *ChainError
	if errors.As(err, &ce) {
		return ce.Seq
	}
	return 0
}
