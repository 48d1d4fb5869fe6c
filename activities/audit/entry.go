// Package audit keeps an append-only, hash-chained audit log of releases as JSON
// lines, apart from Temporal history: history is pruned by retention and holds
// workflow internals, while auditors need a small, durable, tamper-evident record
// of who did what to which release.
//
// Each line is one Entry. Its hash covers its own fields and the hash of the entry
// before it, so editing, deleting or reordering any line breaks the chain from that
// point on, and Verify reports where. Rewriting the whole file from an edited entry
// onwards is not detectable from the file alone; comparing the head hash with one
// recorded elsewhere (AppendAuditResult.Hash ends up in workflow history) is.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Entry is one audit record. The caller fills everything except Seq, Prev and
// Hash, which Append assigns. Do not put secrets in any field: the log is meant to
// be read by people and copied around.
type Entry struct {
	// Seq is the 1-based position in the log.
	Seq int64 `json:"seq"`
	// ID is the caller's idempotency key; an Append with an ID already in the log
	// returns the stored entry, so activity retries never write twice.
	ID string `json:"id"`
	// Time is chosen by the caller (the workflow passes workflow.Now) so that a
	// retried append describes the same moment. It is stored in UTC.
	Time time.Time `json:"time"`
	// Actor is who caused the event: a person, or "runbook" for automation.
	Actor string `json:"actor,omitempty"`
	// Action names the event, e.g. "release.started" or "gate.approved".
	Action string `json:"action"`
	// Release is the workflow ID of the release.
	Release     string `json:"release,omitempty"`
	Service     string `json:"service,omitempty"`
	Environment string `json:"environment,omitempty"`
	Version     string `json:"version,omitempty"`
	Step        string `json:"step,omitempty"`
	Outcome     string `json:"outcome,omitempty"`
	Detail      string `json:"detail,omitempty"`
	// Channel is where a person's decision came from: cli, slack or ui.
	Channel string `json:"channel,omitempty"`
	// Prev is the Hash of the entry before this one, "" for the first.
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of the canonical JSON of this entry with Hash empty.
	Hash string `json:"hash"`
}

// ErrInvalidEntry is wrapped by Append's errors for entries that can never be
// written, so callers can tell them from I/O failures worth retrying.
var ErrInvalidEntry = errors.New("invalid audit entry")

// validate rejects entries that would make the log useless to an auditor or
// could not be encoded.
func validate(e Entry) error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: id is required (an idempotency key generated in the workflow)", ErrInvalidEntry)
	case e.Action == "":
		return fmt.Errorf("%w %q: action is required", ErrInvalidEntry, e.ID)
	case e.Time.IsZero():
		return fmt.Errorf("%w %q: time is required (pass workflow.Now so retries write the same record)", ErrInvalidEntry, e.ID)
	case e.Time.Year() < 1 || e.Time.Year() > 9999:
		return fmt.Errorf("%w %q: time %v is out of range", ErrInvalidEntry, e.ID, e.Time)
	}
	return nil
}

// canonical is the byte form that is hashed and, with the hash filled in, stored.
// encoding/json writes struct fields in declaration order, which makes it stable.
func canonical(e Entry) ([]byte, error) {
	return json.Marshal(e)
}

// hashOf computes the chain hash of e, ignoring whatever e.Hash holds.
func hashOf(e Entry) (string, error) {
	e.Hash = ""
	b, err := canonical(e)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// decodeLine parses one stored line strictly: unknown fields or trailing data
// mean someone wrote to the file by hand.
func decodeLine(raw []byte) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return Entry{}, err
	}
	if dec.More() {
		return Entry{}, errors.New("trailing data after the entry")
	}
	return e, nil
}

// ChainError reports the first place where the log stops being a valid chain.
type ChainError struct {
	// Seq is the sequence number the broken entry has or, if it cannot be
	// parsed, the one it should have had.
	Seq int64
	// Line is the 1-based line number in the file.
	Line int
	// Reason says what is wrong in words an operator can act on.
	Reason string
}

// Error formats the problem as "entry 7: hash mismatch, the log was edited".
func (e *ChainError) Error() string {
	if int64(e.Line) == e.Seq {
		return fmt.Sprintf("entry %d: %s", e.Seq, e.Reason)
	}
	return fmt.Sprintf("entry %d (line %d): %s", e.Seq, e.Line, e.Reason)
}

// chain tracks the tail of a log while it is read, to check each next entry.
type chain struct {
	seq  int64
	head string
	line int
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
	if e.Seq != c.seq+1 {
		return fail(fmt.Sprintf("seq %d follows seq %d, entries were deleted, duplicated or moved", e.Seq, c.seq))
	}
	if e.Prev != c.head {
		return fail(fmt.Sprintf("prev does not match the hash of entry %d, an entry before it was replaced", c.seq))
	}
	c.seq, c.head, c.line = e.Seq, e.Hash, line
	return nil
}

// malformed reports a line that is not an entry at all.
func (c *chain) malformed(err error) error {
	return &ChainError{Seq: c.seq + 1, Line: c.line + 1, Reason: fmt.Sprintf("not a valid entry (%v), the log was edited", err)}
}
