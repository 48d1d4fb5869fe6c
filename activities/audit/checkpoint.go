package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Checkpoint records, outside the log, how far the log had reached: the seq
// and hash of its last entry when it was written, signed by the worker. The
// chain alone cannot show entries cut off its end, or a log emptied or
// replaced by a shorter one; a checkpoint kept elsewhere can, because the log
// must still reach its seq with the same hash there.
type Checkpoint struct {
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`
	Time  time.Time `json:"time"`
	KeyID string    `json:"key_id"`
	Sig   string    `json:"sig"`
}

// message is what the checkpoint's signature covers.
func (cp Checkpoint) message() []byte {
	return []byte("runbook audit checkpoint v1\n" + strconv.FormatInt(cp.Seq, 10) + "\n" + cp.Hash + "\n" + cp.Time.UTC().Format(time.RFC3339Nano))
}

// String describes the checkpoint for messages.
func (cp Checkpoint) String() string {
	return fmt.Sprintf("seq %d, hash %s, written %s by key %s", cp.Seq, short(cp.Hash), cp.Time.UTC().Format(time.RFC3339), cp.KeyID)
}

// DefaultCheckpoint is where the checkpoint of the log file at path is kept
// unless configured: beside it. Keep it on other storage, or copy it
// elsewhere, to survive someone who can replace the whole directory.
func DefaultCheckpoint(path string) string { return path + ".checkpoint" }

// ReadCheckpoint reads a checkpoint file; a missing file is an error that
// wraps fs.ErrNotExist.
func ReadCheckpoint(path string) (Checkpoint, error) {
	var cp Checkpoint
	b, err := os.ReadFile(path)
	if err != nil {
		return cp, fmt.Errorf("audit checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &cp); err != nil || cp.Seq < 1 || len(cp.Hash) != 64 {
		return Checkpoint{}, fmt.Errorf("audit checkpoint %s is not a checkpoint; it was edited", path)
	}
	return cp, nil
}

// Verify checks the checkpoint's signature with keys.
func (cp Checkpoint) Verify(keys Keyring) error {
	if err := keys.check(cp.KeyID, cp.Sig, cp.message()); err != nil {
		return fmt.Errorf("audit checkpoint (%s): %w; it was forged or edited", cp, err)
	}
	return nil
}

// SignCheckpoint signs a checkpoint at seq and hash, written at now (kept
// to the microsecond, as PostgreSQL keeps it).
func (s *Signer) SignCheckpoint(seq int64, hash string, now time.Time) Checkpoint {
	cp := Checkpoint{Seq: seq, Hash: hash, Time: now.UTC().Truncate(time.Microsecond), KeyID: s.id}
	cp.Sig = s.sign(cp.message())
	return cp
}

// writeCheckpoint signs a checkpoint at seq and hash and replaces the file at
// path with it atomically (a temporary file, synced and renamed), so a crash
// leaves the old checkpoint or the new one, never half of one.
func (s *Signer) writeCheckpoint(path string, seq int64, hash string, now time.Time) error {
	b, err := json.Marshal(s.SignCheckpoint(seq, hash, now))
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write audit checkpoint: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write audit checkpoint %s: %w", path, err)
	}
	return syncDir(dir)
}

// reaches checks that a log whose chain is c, and whose entry at a seq is
// found by hashAt, still reaches the checkpoint: it holds the checkpoint's
// seq with the same hash, or was pruned past it. A log that ends before it
// was cut or emptied; a different hash there means it was cut and written
// again from before that point.
func (cp Checkpoint) reaches(c *chain, hashAt func(seq int64) (string, bool), where string) error {
	anchor, anchorHash := c.anchor()
	switch {
	case c.seq == 0 && anchor == 0:
		return &ChainError{Seq: 1, Reason: fmt.Sprintf("the log is empty, but the checkpoint %s (%s) expects it to reach seq %d: the log was emptied or replaced", where, cp, cp.Seq)}
	case c.seq < cp.Seq:
		return &ChainError{Seq: c.seq + 1, Reason: fmt.Sprintf("the log ends at seq %d, but the checkpoint %s (%s) expects it to reach seq %d: entries %d..%d were cut from its end",
			c.seq, where, cp, cp.Seq, c.seq+1, cp.Seq)}
	case cp.Seq < anchor:
		return nil // pruned since; the prune entry is in the chain
	case cp.Seq == anchor:
		if anchorHash != cp.Hash {
			return &ChainError{Seq: cp.Seq, Reason: fmt.Sprintf("the log is anchored at hash %s here, but the checkpoint %s (%s) recorded another: the log was cut and rewritten", short(anchorHash), where, cp)}
		}
		return nil
	}
	if h, ok := hashAt(cp.Seq); !ok || h != cp.Hash {
		return &ChainError{Seq: cp.Seq, Reason: fmt.Sprintf("the entry here has hash %s, but the checkpoint %s (%s) recorded another: the log was cut and rewritten from before it", short(h), where, cp)}
	}
	return nil
}
