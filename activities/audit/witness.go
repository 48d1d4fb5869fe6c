package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Names of the AuditCheckpoints workflow, which keeps the newest signed
// checkpoint of one audit log in Temporal: a third place, run by other
// people than the database's owner or the log file's host, that someone
// cutting the log must also reach. It lives on the worker's task queue.
const (
	CheckpointsWorkflowName = "AuditCheckpoints"
	// UpdateRecordCheckpoint records a newer checkpoint; its validator
	// refuses an older or equal seq and a signature that does not verify,
	// so the recorded seq only grows and no one can block it with a bogus
	// high seq.
	UpdateRecordCheckpoint = "record-checkpoint"
	// QueryCheckpoint returns the Witness: the newest checkpoint and the keys.
	QueryCheckpoint = "checkpoint"
)

// ErrNotNewer is the refusal of a checkpoint that is not newer than the one
// recorded: another worker got there first, which is fine.
var ErrNotNewer = errors.New("not newer than the recorded checkpoint")

// CheckpointsWorkflowID is the ID of the AuditCheckpoints workflow of the log
// named logID (see LogID): one per log, so every worker writing it and
// `audit verify` find the same.
func CheckpointsWorkflowID(logID string) string { return "audit-checkpoints/" + logID }

// LogID names the log a worker or the CLI is configured with, the same
// whoever connects: host, port and database for PostgreSQL (not the user,
// since the worker and an auditor connect as different roles), the absolute
// path of a file.
func LogID(path string, dsn DSN) (string, error) {
	if dsn == "" {
		return filepath.Abs(path)
	}
	cfg, err := pgx.ParseConfig(string(dsn))
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvDSN, scrub(err, string(dsn)))
	}
	return "postgres://" + net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database, nil
}

// Witness is the state of the AuditCheckpoints workflow: the newest
// checkpoint recorded, and the public keys it accepts checkpoints from. The
// first checkpoint's key is trusted on first use; later ones must be signed
// by a key already trusted.
type Witness struct {
	Keys   Keyring     `json:"keys,omitempty"`
	Latest *Checkpoint `json:"latest,omitempty"`
}

// RecordCheckpointInput is the UpdateRecordCheckpoint argument: a
// checkpoint and the public key of the key that signed it.
type RecordCheckpointInput struct {
	Checkpoint Checkpoint        `json:"checkpoint"`
	PublicKey  ed25519.PublicKey `json:"public_key"`
}

// Check tells whether in may be recorded: a well-formed checkpoint newer
// than the latest, signed by a trusted key (or, for the first one, by the
// key it comes with). It is deterministic, so the workflow's validator
// calls it.
func (w Witness) Check(in RecordCheckpointInput) error {
	cp := in.Checkpoint
	switch {
	case cp.Seq < 1 || len(cp.Hash) != 64:
		return fmt.Errorf("not a checkpoint (seq %d, hash %q)", cp.Seq, short(cp.Hash))
	case w.Latest != nil && cp.Seq <= w.Latest.Seq:
		return fmt.Errorf("seq %d: %w at seq %d", cp.Seq, ErrNotNewer, w.Latest.Seq)
	}
	// A lookup by key ID, not Keyring.check, whose message lists the
	// trusted keys by ranging over the map: this runs in a workflow.
	pub, ok := w.trusted(in)[cp.KeyID]
	if !ok {
		return fmt.Errorf("checkpoint seq %d is signed with key %s, which is not among the trusted public keys of this log", cp.Seq, cp.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(cp.Sig)
	if err != nil || !ed25519.Verify(pub, cp.message(), raw) {
		return fmt.Errorf("checkpoint seq %d: the signature does not verify with key %s", cp.Seq, cp.KeyID)
	}
	return nil
}

// Record stores in, which Check accepted, unless a newer one was recorded
// since: validators of Updates delivered together all run before their
// handlers, so the handler checks the order again.
func (w *Witness) Record(in RecordCheckpointInput) {
	if w.Latest != nil && in.Checkpoint.Seq <= w.Latest.Seq {
		return
	}
	w.Keys = w.trusted(in)
	cp := in.Checkpoint
	w.Latest = &cp
}

// trusted returns the keys to check in with: the witness's, or the key in
// comes with when none is trusted yet.
func (w Witness) trusted(in RecordCheckpointInput) Keyring {
	if len(w.Keys) > 0 || len(in.PublicKey) != ed25519.PublicKeySize {
		return w.Keys
	}
	return Keyring{KeyID(in.PublicKey): in.PublicKey}
}

// PublicKey returns the signer's public key, which the AuditCheckpoints
// workflow trusts on first use.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }
