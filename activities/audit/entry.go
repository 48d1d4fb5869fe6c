// Package audit keeps an append-only, hash-chained audit log of releases apart
// from Temporal history: history is pruned by retention and holds workflow
// internals, while auditors need a small, durable, tamper-evident record of who
// did what to which release.
//
// The log lives in a Store: a JSON-lines file (Log, one host) or a PostgreSQL
// table (Postgres, a team). Both keep the same chain. Each Entry's hash covers
// its own fields and the hash of the entry before it, so editing, deleting,
// inserting or reordering any entry breaks the chain from that point on, and
// Verify reports where. Prune removes old entries and appends an ActionPruned
// entry recording the anchor, the hash the first kept entry must point at;
// being in the chain, the anchor cannot be changed unnoticed either. Rewriting
// the log from an edited entry to its end (or cutting entries off its end) is
// not detectable from the log alone; a store written with a Signer signs
// every entry and keeps a signed Checkpoint outside the log (a file beside
// the file log; the table runbook_audit_checkpoint, and optionally a file,
// for PostgreSQL), which VerifyTrust compares the log with
// (AppendAuditResult.Hash in workflow history is another place the head hash
// is recorded).
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

// Entry is one audit record. The caller fills everything except Seq, KeyID,
// Prev, Hash and Sig, which Append assigns. Do not put secrets in any field: the log is meant to
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
	// Identity is how the actor was verified: "ssh SHA256:…" (their key),
	// "oidc ISSUER SUBJECT", "slack USERID" (signed by the worker for the
	// mapped Slack user), or "unsigned" (a name taken as given).
	Identity string `json:"identity,omitempty"`
	// Digest is the digest of the artifact the release deploys (sha256:…).
	Digest string `json:"digest,omitempty"`
	// Commit is the source commit the artifact was built from.
	Commit string `json:"commit,omitempty"`
	// BreakGlass records that the release passed a closed window or a
	// freeze by break-glass, which auditors review one by one.
	BreakGlass bool `json:"break_glass,omitempty"`
	// Pruned is set on ActionPruned entries only, which Prune writes: what
	// retention removed and the anchor the chain now starts from.
	Pruned Pruned `json:"pruned,omitzero"`
	// KeyID names the worker key that signed the entry, "" for an unsigned
	// one (logs written before signing was set up). The hash covers it, so a
	// signed entry cannot be passed off as unsigned.
	KeyID string `json:"key_id,omitempty"`
	// Prev is the Hash of the entry before this one, "" for the first.
	Prev string `json:"prev"`
	// Hash is the hex SHA-256 of the canonical JSON of this entry with Hash
	// and Sig empty.
	Hash string `json:"hash"`
	// Sig is the base64 Ed25519 signature of the hash by the key KeyID.
	Sig string `json:"sig,omitempty"`
}

// ActionPruned is the action of the entry Prune appends.
const ActionPruned = "audit.pruned"

// Pruned is what an ActionPruned entry records about a prune.
type Pruned struct {
	// Before is the cut: only entries older than it were removed.
	Before time.Time `json:"before"`
	// FromSeq and ToSeq are the first and last removed entries; ToSeq is
	// the anchor, the entry the first kept entry's Prev points at.
	FromSeq int64 `json:"from_seq"`
	ToSeq   int64 `json:"to_seq"`
	// Count is how many entries were removed.
	Count int64 `json:"count"`
	// Oldest and Newest are the times of the oldest and newest removed entries.
	Oldest time.Time `json:"oldest"`
	Newest time.Time `json:"newest"`
	// AnchorHash is the hash of entry ToSeq.
	AnchorHash string `json:"anchor_hash"`
}

// IsZero reports whether p is empty, as it is on every other entry.
func (p Pruned) IsZero() bool { return p == Pruned{} }

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
	case e.Action == ActionPruned || !e.Pruned.IsZero():
		return fmt.Errorf("%w %q: %s entries are written by Prune only, so the anchor they record can be trusted", ErrInvalidEntry, e.ID, ActionPruned)
	}
	return nil
}

// canonical is the byte form that is hashed and, with the hash filled in, stored.
// encoding/json writes struct fields in declaration order, which makes it stable.
func canonical(e Entry) ([]byte, error) {
	return json.Marshal(e)
}

// hashOf computes the chain hash of e, ignoring whatever e.Hash and e.Sig hold.
func hashOf(e Entry) (string, error) {
	e.Hash, e.Sig = "", ""
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
	// Line is the 1-based line number in the file, 0 for a database.
	Line int
	// Reason says what is wrong in words an operator can act on.
	Reason string
	// start marks a log whose start is broken, so no entry in it verified.
	start bool
}

// Error formats the problem as "entry 7: hash mismatch, the log was edited".
func (e *ChainError) Error() string {
	if e.Line == 0 || int64(e.Line) == e.Seq {
		return fmt.Sprintf("entry %d: %s", e.Seq, e.Reason)
	}
	return fmt.Sprintf("entry %d (line %d): %s", e.Seq, e.Line, e.Reason)
}

// seal fills in e.Hash and returns the bytes it hashes: the canonical JSON of
// e with the hash blank, which the database stores as they are.
func seal(e Entry) (Entry, []byte, error) {
	e.Hash, e.Sig = "", ""
	b, err := canonical(e)
	if err != nil {
		return Entry{}, nil, fmt.Errorf("%w %q: %v", ErrInvalidEntry, e.ID, err)
	}
	sum := sha256.Sum256(b)
	e.Hash = hex.EncodeToString(sum[:])
	return e, b, nil
}
