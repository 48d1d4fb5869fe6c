package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"
)

// checkpointBehind reports whether this process has appended or read
// entries its checkpoint does not cover yet. The caller holds mu.
func (l *Log) checkpointBehind() bool {
	return l.signing.Signer != nil && l.cpSeq < l.chain.seq
}

// syncCheckpoint checks, with the file read up to its end under the
// exclusive lock, that the log still reaches the checkpoint, and brings the
// checkpoint up to the log's tail if it lags (entries appended by a process
// that does not sign, or a checkpoint write that failed). A missing
// checkpoint is created on the first start with signing, and refused for a
// log whose tail is signed. The caller holds mu
// and the exclusive lock.
func (l *Log) syncCheckpoint() error {
	if l.signing.Signer == nil {
		return nil
	}
	cp, err := ReadCheckpoint(l.signing.Checkpoint)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A signed tail was checkpointed: the checkpoint was removed, maybe
		// together with entries cut from the end. Starting a new one would
		// bless the cut.
		if tail, terr := l.entryAt(l.chain.seq); terr == nil && tail.KeyID != "" {
			return fmt.Errorf("audit log %s ends with a signed entry (seq %d) but its checkpoint %s is missing: restore the checkpoint from backup, "+
				"or check the log with `runbook audit verify --public-key --checkpoint` against a copy and then remove nothing: move the log aside to start a new one",
				l.path, l.chain.seq, l.signing.Checkpoint)
		}
		if l.chain.seq > 0 {
			slog.Warn("audit log: no checkpoint yet, starting one at the current tail; keep it where the log's writers cannot replace it",
				"checkpoint", l.signing.Checkpoint, "seq", l.chain.seq)
		}
	case err != nil:
		return fmt.Errorf("%w; restore it from backup or, after `runbook audit verify`, remove it", err)
	default:
		if err := cp.reaches(&l.chain, l.hashAt, l.signing.Checkpoint); err != nil {
			return fmt.Errorf("audit log %s: %w; nothing is appended until it is restored from backup", l.path, err)
		}
		l.cpSeq = max(l.cpSeq, cp.Seq)
	}
	if l.chain.seq == 0 || !l.checkpointBehind() {
		return nil
	}
	return l.writeCheckpoint()
}

// writeCheckpoint records the log's tail in the checkpoint. The caller holds
// mu and the exclusive lock, so checkpoints of several processes never go
// backwards.
func (l *Log) writeCheckpoint() error {
	if l.signing.Signer == nil {
		return nil
	}
	if err := l.signing.Signer.writeCheckpoint(l.signing.Checkpoint, l.chain.seq, l.chain.head, time.Now()); err != nil {
		return err
	}
	l.cpSeq = l.chain.seq
	return nil
}

// hashAt returns the hash of the entry at seq.
func (l *Log) hashAt(seq int64) (string, bool) {
	if seq == l.chain.seq {
		return l.chain.head, true
	}
	e, err := l.entryAt(seq)
	return e.Hash, err == nil
}
