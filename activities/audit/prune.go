package audit

import (
	"errors"
	"fmt"
	"time"
)

// PruneInput says what Prune removes.
type PruneInput struct {
	// Before is the cut: entries older than it are removed, from the start
	// of the log up to the first entry that is not older. Times are chosen by
	// callers, so an old entry appended after a newer one is kept, never
	// anything newer than the cut. It is used to the microsecond.
	Before time.Time
	// Actor is who prunes: a person for `runbook audit prune`, "runbook"
	// (the default) for the worker's retention.
	Actor string
	// Reason is added to the ActionPruned entry's detail, e.g. "retention 400d".
	Reason string
	// Now is the time of the ActionPruned entry; zero means the clock. The
	// cut may not be after it.
	Now time.Time
}

// PruneResult says what Prune did.
type PruneResult struct {
	// Removed counts the removed entries; 0 when none was old enough, and
	// then nothing was written.
	Removed int64 `json:"removed"`
	// Entry is the ActionPruned entry appended, zero when nothing was removed.
	Entry Entry `json:"entry,omitzero"`
}

// Summary describes the prune in one line.
func (r PruneResult) Summary() string {
	if r.Removed == 0 {
		return "nothing to prune: no entry at the start of the log is older than the cut"
	}
	p := r.Entry.Pruned
	return fmt.Sprintf("pruned %d entries (seq %d..%d, older than %s); the chain is anchored at seq %d (hash %s), recorded as entry %d (hash %s)",
		r.Removed, p.FromSeq, p.ToSeq, p.Before.Format(time.RFC3339), p.ToSeq, p.AnchorHash, r.Entry.Seq, r.Entry.Hash)
}

// ErrPruneRefused wraps the errors of a prune that asks for something unsafe.
var ErrPruneRefused = errors.New("prune refused")

// planPrune chooses the entries to remove from all (the whole verified log,
// whose tail is c) and builds the sealed ActionPruned entry that will follow
// c's tail. It returns n == 0 when nothing is old enough.
func planPrune(all []Entry, c *chain, in PruneInput) (pruned Entry, n int, err error) {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	cut := in.Before.UTC().Truncate(time.Microsecond)
	switch {
	case in.Before.IsZero():
		return Entry{}, 0, fmt.Errorf("%w: no cut given; say which entries to remove, e.g. --before 2026-01-01", ErrPruneRefused)
	case cut.After(now):
		return Entry{}, 0, fmt.Errorf("%w: the cut %s is in the future, which would remove entries being written now", ErrPruneRefused, cut.Format(time.RFC3339))
	}
	for n < len(all) && all[n].Time.Before(cut) {
		n++
	}
	if n == 0 {
		return Entry{}, 0, nil
	}
	removed, last := all[:n], all[n-1]
	p := Pruned{Before: cut, FromSeq: removed[0].Seq, ToSeq: last.Seq, Count: int64(n), AnchorHash: last.Hash,
		Oldest: removed[0].Time, Newest: removed[0].Time}
	for _, e := range removed {
		p.Oldest, p.Newest = minTime(p.Oldest, e.Time), maxTime(p.Newest, e.Time)
	}
	actor := in.Actor
	if actor == "" {
		actor = "runbook"
	}
	detail := fmt.Sprintf("removed %d entries older than %s (seq %d..%d, %s to %s); the chain now starts after seq %d, hash %s",
		p.Count, cut.Format(time.RFC3339), p.FromSeq, p.ToSeq, p.Oldest.Format(time.RFC3339), p.Newest.Format(time.RFC3339), p.ToSeq, p.AnchorHash)
	if in.Reason != "" {
		detail = in.Reason + ": " + detail
	}
	e := Entry{
		Seq: c.seq + 1, Prev: c.head,
		// The ID names the anchor, so the same prune is never recorded twice.
		ID:   fmt.Sprintf("%s/%d/%s", ActionPruned, p.ToSeq, p.AnchorHash[:16]),
		Time: now.UTC().Truncate(time.Microsecond), Actor: actor, Action: ActionPruned, Detail: detail, Pruned: p,
	}
	pruned, _, err = seal(e)
	return pruned, n, err
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
