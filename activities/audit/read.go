package audit

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// VerifyResult summarises a verified log.
type VerifyResult struct {
	// Entries counts the entries that verified, up to the first broken one.
	Entries int64
	// Head is the hash of the last entry that verified; compare it with a hash
	// recorded elsewhere to notice a log rewritten from some point on, or
	// entries cut off its end, which the chain alone cannot show.
	Head string
	// BrokenSeq is the seq of the first broken entry, 0 if the chain is intact.
	BrokenSeq int64
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
	var res VerifyResult
	c, err := readAll(path, func(Entry) { res.Entries++ })
	res.Head = c.head
	if err != nil {
		res.BrokenSeq = brokenSeq(err)
	}
	return res, err
}

// Read returns the entries of the log at path that match filter, in order. It
// checks the chain while reading; if it is broken, Read returns the entries
// before the break together with the *ChainError, so a caller can still show them
// but cannot mistake them for a verified log.
func Read(path string, filter Filter) ([]Entry, error) {
	var out []Entry
	_, err := readAll(path, func(e Entry) {
		if filter.match(e) {
			out = append(out, e)
		}
	})
	return out, err
}

// readAll scans the whole file under a shared lock, so it never sees a line a
// concurrent writer is halfway through.
func readAll(path string, fn func(Entry)) (chain, error) {
	var c chain
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("open audit log: %w", err)
	}
	defer func() { _ = f.Close() }()
	unlock, err := lockFile(f, lockShared)
	if err != nil {
		return c, fmt.Errorf("lock audit log %s: %w", path, err)
	}
	defer unlock()
	res, err := scan(f, &c, fn)
	if err != nil {
		return c, err
	}
	if res.tail > 0 {
		return c, &ChainError{Seq: c.seq + 1, Line: c.line + 1,
			Reason: fmt.Sprintf("incomplete last line (%d bytes): a writer crashed mid-append; the next append removes it", res.tail)}
	}
	return c, nil
}

// brokenSeq extracts the broken seq from a *ChainError, 0 for other errors.
func brokenSeq(err error) int64 {
	var ce *ChainError
	if errors.As(err, &ce) {
		return ce.Seq
	}
	return 0
}
