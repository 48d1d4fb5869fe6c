package audit

import "fmt"

// chain tracks the tail of a log while it is read, to check each next entry.
// A log that was never pruned starts at seq 1 with an empty Prev. A pruned log
// starts after an anchor: its first entry's Prev is the hash of the last
// removed entry, and the latest ActionPruned entry in the chain must record
// exactly that seq and hash, which finish checks once everything is read.
type chain struct {
	seq  int64
	head string
	line int

	// first and firstPrev describe the first entry read, 0 and "" before it.
	first     int64
	firstPrev string
	// pruned is what the latest ActionPruned entry read records, prunedAt
	// its seq (0 if none was read).
	pruned   Pruned
	prunedAt int64
}

// accept checks that e is the valid successor of the entries seen so far and
// advances the tail.
func (c *chain) accept(e Entry) error {
	// The line counter only moves on success, so re-reading a broken line after
	// a failed catch-up reports the same line number again.
	line := c.line + 1
	fail := func(reason string) error { return &ChainError{Seq: e.Seq, Line: line, Reason: reason} }
	if h, err := hashOf(e); err != nil || h != e.Hash {
		return fail("hash mismatch, the log was edited")
	}
	switch {
	case c.first == 0 && e.Seq < 1:
		return fail(fmt.Sprintf("seq %d is not a valid position, the log was edited", e.Seq))
	case c.first == 0 && e.Seq == 1 && e.Prev != "":
		return fail("the first entry has a prev, but nothing comes before seq 1: it was replaced")
	case c.first == 0:
		// A later seq is only valid after a prune; finish checks the anchor.
	case e.Seq != c.seq+1:
		return fail(fmt.Sprintf("seq %d follows seq %d, entries were deleted, duplicated or moved", e.Seq, c.seq))
	case e.Prev != c.head:
		return fail(fmt.Sprintf("prev does not match the hash of entry %d, an entry before it was replaced", c.seq))
	}
	if err := c.checkPruned(e); err != nil {
		return fail(err.Error())
	}
	if c.first == 0 {
		c.first, c.firstPrev = e.Seq, e.Prev
	}
	c.seq, c.head, c.line = e.Seq, e.Hash, line
	return nil
}

// checkPruned checks that an ActionPruned entry is consistent with the
// entries before it, and remembers its anchor.
func (c *chain) checkPruned(e Entry) error {
	if e.Action != ActionPruned {
		if !e.Pruned.IsZero() {
			return fmt.Errorf("a %q entry carries prune data, the log was edited", e.Action)
		}
		return nil
	}
	p, first := e.Pruned, c.first
	if first == 0 {
		first = e.Seq
	}
	switch {
	case p.FromSeq < 1 || p.ToSeq < p.FromSeq || p.Count != p.ToSeq-p.FromSeq+1 || len(p.AnchorHash) != 64:
		return fmt.Errorf("%s entry records an impossible range (seq %d..%d, count %d), the log was edited", ActionPruned, p.FromSeq, p.ToSeq, p.Count)
	case c.prunedAt > 0 && p.FromSeq != c.pruned.ToSeq+1:
		return fmt.Errorf("%s entry removed seq %d..%d, but the one at seq %d ended at seq %d: the prunes do not join up", ActionPruned, p.FromSeq, p.ToSeq, c.prunedAt, c.pruned.ToSeq)
	case p.ToSeq >= first:
		return fmt.Errorf("%s entry says seq %d..%d were removed, but the log still holds seq %d: the prune record was forged or the entries restored", ActionPruned, p.FromSeq, p.ToSeq, first)
	}
	c.pruned, c.prunedAt = p, e.Seq
	return nil
}

// finish checks, once every entry has been read, that the log starts where
// it should: at seq 1, or right after the anchor the latest ActionPruned entry
// records. This is what catches entries deleted from the start of the log and
// an anchor faked to hide that.
func (c *chain) finish() error {
	if c.first <= 1 {
		return nil // empty, or starts at seq 1 (accept checked its empty prev)
	}
	fail := func(reason string) error { return &ChainError{Seq: c.first, Line: 1, Reason: reason, start: true} }
	if c.prunedAt == 0 {
		return fail(fmt.Sprintf("the log starts at seq %d but no %s entry anchors it there: entries 1..%d were deleted", c.first, ActionPruned, c.first-1))
	}
	if c.pruned.ToSeq != c.first-1 {
		return fail(fmt.Sprintf("the log starts at seq %d but the %s entry at seq %d anchors it at seq %d: entries %d..%d were deleted from its start",
			c.first, ActionPruned, c.prunedAt, c.pruned.ToSeq, c.pruned.ToSeq+1, c.first-1))
	}
	if c.firstPrev != c.pruned.AnchorHash {
		return fail(fmt.Sprintf("prev does not match the anchor hash %s recorded by the %s entry at seq %d: the first entry was replaced or the anchor faked",
			short(c.pruned.AnchorHash), ActionPruned, c.prunedAt))
	}
	return nil
}

// anchor returns the seq and hash the log starts from: 0 and "" for a log
// that was never pruned.
func (c *chain) anchor() (int64, string) {
	if c.first <= 1 {
		return 0, ""
	}
	return c.first - 1, c.firstPrev
}

// malformed reports a line that is not an entry at all.
func (c *chain) malformed(err error) error {
	return &ChainError{Seq: c.seq + 1, Line: c.line + 1, Reason: fmt.Sprintf("not a valid entry (%v), the log was edited", err)}
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
