package audit

import (
	"fmt"
	"strings"
)

// Trust is what verification checks beyond the chain: the signatures of the
// entries against trusted public keys, and that the log still reaches a
// checkpoint kept outside it.
type Trust struct {
	// Keys are the trusted public keys.
	Keys Keyring
	// Checkpoint, if set, must be reached by the log; CheckpointPath names
	// where it was read, for messages.
	Checkpoint     *Checkpoint
	CheckpointPath string
	// Also are more checkpoints kept elsewhere (the PostgreSQL checkpoint
	// table, Temporal), each checked like Checkpoint: the log must reach
	// every one of them.
	Also []CheckpointAt
}

// CheckpointAt is a checkpoint and where it was read, for messages.
type CheckpointAt struct {
	Checkpoint Checkpoint
	Where      string
}

// checkpoints lists every checkpoint t holds.
func (t Trust) checkpoints() []CheckpointAt {
	all := t.Also
	if t.Checkpoint != nil {
		all = append([]CheckpointAt{{Checkpoint: *t.Checkpoint, Where: t.CheckpointPath}}, all...)
	}
	return all
}

// TrustResult summarises the signatures of a verified log.
type TrustResult struct {
	// Signed counts entries whose signature verified.
	Signed int64 `json:"signed"`
	// Unsigned counts entries without a signature, all written before
	// signing was set up (UnsignedFirst..UnsignedLast): an unsigned entry
	// after a signed one is an error.
	Unsigned      int64 `json:"unsigned"`
	UnsignedFirst int64 `json:"unsigned_first,omitempty"`
	UnsignedLast  int64 `json:"unsigned_last,omitempty"`
	// CheckpointSeq is the newest checkpoint the log reaches, 0 if none was
	// checked; CheckpointsChecked names where the checkpoints were read.
	CheckpointSeq      int64    `json:"checkpoint_seq,omitempty"`
	CheckpointsChecked []string `json:"checkpoints_checked,omitempty"`
}

// Summary describes the result in one line.
func (r TrustResult) Summary() string {
	s := fmt.Sprintf("%d entries signed", r.Signed)
	if r.Unsigned > 0 {
		s += fmt.Sprintf(", %d unsigned (seq %d..%d, written before signing was set up)", r.Unsigned, r.UnsignedFirst, r.UnsignedLast)
	}
	if r.CheckpointSeq > 0 {
		s += fmt.Sprintf("; reaches the checkpoint at seq %d (checked: %s)", r.CheckpointSeq, strings.Join(r.CheckpointsChecked, ", "))
	} else {
		s += "; no checkpoint checked, so a cut tail would not show"
	}
	return s
}

// VerifyTrust checks the signatures of entries, the whole log as Read
// returned it from a chain that verified with result res, and that the log
// reaches t.Checkpoint. Problems are a *ChainError naming the entry.
func VerifyTrust(entries []Entry, res VerifyResult, t Trust) (TrustResult, error) {
	var out TrustResult
	var lastSigned int64
	for _, e := range entries {
		fail := func(reason string) error { return &ChainError{Seq: e.Seq, Reason: reason} }
		switch {
		case e.KeyID == "" && e.Sig == "" && lastSigned > 0:
			return out, fail(fmt.Sprintf("unsigned, but entry %d before it is signed: the log was rewritten from here by someone without the worker's key", lastSigned))
		case e.KeyID == "" && e.Sig == "":
			if out.Unsigned == 0 {
				out.UnsignedFirst = e.Seq
			}
			out.Unsigned, out.UnsignedLast = out.Unsigned+1, e.Seq
			continue
		case e.Sig == "":
			return out, fail(fmt.Sprintf("names key %s but carries no signature: the signature was removed", e.KeyID))
		}
		if err := t.Keys.check(e.KeyID, e.Sig, entryMessage(e.Hash)); err != nil {
			return out, fail(err.Error() + ": the entry was forged or edited")
		}
		out.Signed, lastSigned = out.Signed+1, e.Seq
	}
	if len(t.checkpoints()) == 0 {
		return out, nil
	}
	c := chain{seq: res.LastSeq, head: res.Head, first: res.FirstSeq}
	if res.AnchorSeq > 0 {
		c.first, c.firstPrev = res.AnchorSeq+1, res.AnchorHash
	}
	hashAt := func(seq int64) (string, bool) {
		if len(entries) == 0 {
			return "", false
		}
		i := seq - entries[0].Seq
		if i < 0 || i >= int64(len(entries)) {
			return "", false
		}
		return entries[i].Hash, true
	}
	for _, at := range t.checkpoints() {
		if err := at.Checkpoint.Verify(t.Keys); err != nil {
			return out, fmt.Errorf("%s: %w", at.Where, err)
		}
		if err := at.Checkpoint.reaches(&c, hashAt, at.Where); err != nil {
			return out, err
		}
		out.CheckpointSeq = max(out.CheckpointSeq, at.Checkpoint.Seq)
		out.CheckpointsChecked = append(out.CheckpointsChecked, at.Where)
	}
	return out, nil
}
