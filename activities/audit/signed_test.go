package audit

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// keyPair generates a worker key in dir and returns its signer and the
// trusted public keys.
func keyPair(t *testing.T, dir, name string) (*Signer, Keyring) {
	t.Helper()
	priv, pub := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".pub")
	id, err := GenerateKey(priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadPublicKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != id || keys[id] == nil {
		t.Fatalf("key ID %s, signer %s, keys %v", id, s.KeyID(), keys.IDs())
	}
	return s, keys
}

// signedLog is a signing file log with n entries and its trust.
type signedLog struct {
	path, cpPath string
	log          *Log
	signer       *Signer
	trust        Trust
}

func newSignedLog(t *testing.T, n int) signedLog {
	t.Helper()
	dir := t.TempDir()
	s, keys := keyPair(t, dir, "worker")
	sl := signedLog{path: filepath.Join(dir, "audit.jsonl"), signer: s, trust: Trust{Keys: keys}}
	sl.cpPath = DefaultCheckpoint(sl.path)
	l, err := OpenSigned(sl.path, Signing{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	sl.log = l
	writeN(t, l, n)
	return sl
}

// verifyTrust verifies the chain, then signatures and the checkpoint.
func (sl signedLog) verifyTrust(t *testing.T) (TrustResult, error) {
	t.Helper()
	res, err := Verify(sl.path)
	if err != nil {
		t.Fatalf("chain: %v", err)
	}
	entries, err := Read(sl.path, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	tr := sl.trust
	cp, err := ReadCheckpoint(sl.cpPath)
	if err != nil {
		t.Fatal(err)
	}
	tr.Checkpoint, tr.CheckpointPath = &cp, sl.cpPath
	return VerifyTrust(entries, res, tr)
}

func wantTrustBroken(t *testing.T, sl signedLog, seq int64, msg string) {
	t.Helper()
	_, err := sl.verifyTrust(t)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != seq || !strings.Contains(err.Error(), msg) {
		t.Fatalf("VerifyTrust = %v, want entry %d: %q", err, seq, msg)
	}
}

func TestAuditSignedLogVerifies(t *testing.T) {
	sl := newSignedLog(t, 5)
	got, err := sl.verifyTrust(t)
	if err != nil || got.Signed != 5 || got.Unsigned != 0 || got.CheckpointSeq != 5 {
		t.Fatalf("VerifyTrust = %+v, %v; want 5 signed, checkpoint at 5", got, err)
	}
	for _, l := range readLines(t, sl.path) {
		if !strings.Contains(l, `"key_id":"`+sl.signer.KeyID()+`"`) || !strings.Contains(l, `"sig":"`) {
			t.Errorf("line without key ID or signature: %s", l)
		}
	}
	// Another key is not trusted.
	_, other := keyPair(t, t.TempDir(), "other")
	sl.trust.Keys = other
	wantTrustBroken(t, sl, 1, "not among the trusted public keys")
}

func TestAuditOldUnsignedEntriesAreReported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	old := openLog(t, path)
	writeN(t, old, 3)
	_ = old.Close()
	s, keys := keyPair(t, dir, "worker")
	l, err := OpenSigned(path, Signing{Signer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 4; i <= 5; i++ {
		if _, err := l.Append(t.Context(), entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	sl := signedLog{path: path, cpPath: DefaultCheckpoint(path), log: l, signer: s, trust: Trust{Keys: keys}}
	got, err := sl.verifyTrust(t)
	if err != nil || got.Signed != 2 || got.Unsigned != 3 || got.UnsignedFirst != 1 || got.UnsignedLast != 3 {
		t.Fatalf("VerifyTrust = %+v, %v; want 3 unsigned (1..3), 2 signed", got, err)
	}
	if !strings.Contains(got.Summary(), "3 unsigned (seq 1..3") {
		t.Errorf("summary %q", got.Summary())
	}
}

func TestAuditCutTailIsDetected(t *testing.T) {
	sl := newSignedLog(t, 5)
	lines := readLines(t, sl.path)
	writeLines(t, sl.path, lines[:3])
	wantTrustBroken(t, sl, 4, "the log ends at seq 3, but the checkpoint "+sl.cpPath+" (seq 5, hash")
	// The worker appends nothing at a cut seq: not this handle, not a new one.
	if _, err := sl.log.Append(t.Context(), entry(6)); err == nil {
		t.Error("Append after the cut succeeded")
	}
	if _, err := OpenSigned(sl.path, Signing{Signer: sl.signer}); err == nil || !strings.Contains(err.Error(), "expects it to reach seq 5") {
		t.Errorf("OpenSigned of a cut log = %v, want it refused naming the checkpoint", err)
	}
	if got := readLines(t, sl.path); len(got) != 3 {
		t.Errorf("the cut log has %d lines, want 3 (nothing appended)", len(got))
	}
}

func TestAuditEmptiedLogIsDetected(t *testing.T) {
	sl := newSignedLog(t, 5)
	if err := os.Truncate(sl.path, 0); err != nil {
		t.Fatal(err)
	}
	wantTrustBroken(t, sl, 1, "the log is empty, but the checkpoint "+sl.cpPath)
}

func TestAuditCutAndRewrittenLogIsDetected(t *testing.T) {
	t.Run("unsigned", func(t *testing.T) {
		sl := newSignedLog(t, 5)
		writeLines(t, sl.path, readLines(t, sl.path)[:3])
		l := openLog(t, sl.path) // a writer without the key or the checkpoint
		for i := 14; i <= 16; i++ {
			if _, err := l.Append(t.Context(), entry(i)); err != nil {
				t.Fatal(err)
			}
		}
		wantTrustBroken(t, sl, 4, "unsigned, but entry 3 before it is signed")
	})
	t.Run("with another key", func(t *testing.T) {
		sl := newSignedLog(t, 5)
		writeLines(t, sl.path, readLines(t, sl.path)[:3])
		mallory, _ := keyPair(t, t.TempDir(), "mallory")
		lines := readLines(t, sl.path)[:3]
		prev := mustDecode(t, lines[2]).Hash
		for i := 4; i <= 6; i++ {
			e := entry(10 + i)
			e.Seq, e.Prev = int64(i), prev
			e, err := signEntry(e, mallory)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := canonical(e)
			lines, prev = append(lines, string(b)+"\n"), e.Hash
		}
		writeLines(t, sl.path, lines)
		wantTrustBroken(t, sl, 4, "not among the trusted public keys")
	})
	t.Run("rewritten to the same length", func(t *testing.T) {
		// Even an entry signed with the trusted key does not pass (a
		// worker made to append after its checkpoint was removed): the
		// checkpoint's hash at seq 5 differs.
		sl := newSignedLog(t, 5)
		lines := readLines(t, sl.path)
		writeLines(t, sl.path, lines[:4])
		cp, _ := ReadCheckpoint(sl.cpPath)
		e, _ := signEntry(Entry{ID: "x", Seq: 5, Time: t0, Action: "gate.approved", Actor: "mallory", Prev: mustDecode(t, lines[3]).Hash}, sl.signer)
		line, _ := canonical(e)
		writeLines(t, sl.path, append(lines[:4], string(line)+"\n"))
		_, err := sl.verifyTrust(t)
		if err == nil || !strings.Contains(err.Error(), "cut and rewritten") || cp.Seq != 5 {
			t.Fatalf("VerifyTrust = %v, want the rewrite at seq 5 reported", err)
		}
	})
}

func mustDecode(t *testing.T, line string) Entry {
	t.Helper()
	e, err := decodeLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAuditSignatureTampering(t *testing.T) {
	edit := func(t *testing.T, sl signedLog, seq int64, f func(*Entry)) {
		lines := readLines(t, sl.path)
		e := mustDecode(t, lines[seq-1])
		f(&e)
		b, _ := canonical(e)
		lines[seq-1] = string(b) + "\n"
		writeLines(t, sl.path, lines)
	}
	t.Run("signature removed", func(t *testing.T) {
		sl := newSignedLog(t, 5)
		edit(t, sl, 3, func(e *Entry) { e.Sig = "" })
		wantTrustBroken(t, sl, 3, "carries no signature")
	})
	t.Run("signature of another entry", func(t *testing.T) {
		sl := newSignedLog(t, 5)
		other := mustDecode(t, readLines(t, sl.path)[1])
		edit(t, sl, 3, func(e *Entry) { e.Sig = other.Sig })
		wantTrustBroken(t, sl, 3, "does not verify")
	})
	t.Run("checkpoint edited", func(t *testing.T) {
		sl := newSignedLog(t, 5)
		writeLines(t, sl.path, readLines(t, sl.path)[:3])
		cp, _ := ReadCheckpoint(sl.cpPath)
		cp.Seq = 3
		b, _ := json.Marshal(cp)
		if err := os.WriteFile(sl.cpPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sl.verifyTrust(t); err == nil || !strings.Contains(err.Error(), "forged or edited") {
			t.Fatalf("VerifyTrust = %v, want the edited checkpoint refused", err)
		}
	})
}

func TestAuditSignedPruneKeepsVerifying(t *testing.T) {
	sl := newSignedLog(t, 6)
	res, err := sl.log.Prune(t.Context(), PruneInput{Before: t0.Add(4 * time.Second), Now: t0.Add(time.Hour)})
	if err != nil || res.Removed != 3 {
		t.Fatalf("Prune = %+v, %v", res, err)
	}
	got, err := sl.verifyTrust(t)
	if err != nil || got.Signed != 4 || got.CheckpointSeq != 7 {
		t.Fatalf("VerifyTrust after prune = %+v, %v; want 4 signed, checkpoint at the prune entry 7", got, err)
	}
}

func TestAuditPruneOfACutSignedLogIsRefused(t *testing.T) {
	sl := newSignedLog(t, 6)
	writeLines(t, sl.path, readLines(t, sl.path)[:4])
	_, err := sl.log.Prune(t.Context(), PruneInput{Before: t0.Add(3 * time.Second), Now: t0.Add(time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "nothing pruned") {
		t.Fatalf("Prune of a cut log = %v, want it refused", err)
	}
	if got := readLines(t, sl.path); len(got) != 4 {
		t.Errorf("the cut log has %d lines after the refused prune, want 4", len(got))
	}
}

// A rotation adds a key: entries signed with the old key keep verifying as
// long as its public key stays in the file.
func TestAuditKeyRotation(t *testing.T) {
	sl := newSignedLog(t, 3)
	_ = sl.log.Close()
	dir := t.TempDir()
	next, nextKeys := keyPair(t, dir, "next")
	l, err := OpenSigned(sl.path, Signing{Signer: next})
	if err != nil {
		t.Fatalf("OpenSigned with the new key: %v", err)
	}
	defer l.Close()
	for i := 4; i <= 5; i++ {
		if _, err := l.Append(t.Context(), entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	sl.trust.Keys = nextKeys
	wantTrustBroken(t, sl, 1, "not among the trusted public keys")
	// The public key file of a rotation holds both keys, one after the other.
	var pems []byte
	for _, f := range []string{filepath.Join(filepath.Dir(sl.path), "worker.pub"), filepath.Join(dir, "next.pub")} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, b...)
	}
	both := filepath.Join(dir, "keys.pub")
	if err := os.WriteFile(both, pems, 0o600); err != nil {
		t.Fatal(err)
	}
	if sl.trust.Keys, err = LoadPublicKeys(both); err != nil || len(sl.trust.Keys) != 2 {
		t.Fatalf("LoadPublicKeys = %v, %v; want 2 keys", sl.trust.Keys.IDs(), err)
	}
	got, err := sl.verifyTrust(t)
	if err != nil || got.Signed != 5 || got.CheckpointSeq != 5 {
		t.Fatalf("VerifyTrust with both keys = %+v, %v", got, err)
	}
}

// Removing the checkpoint together with a cut does not make the worker start
// a new one that would bless the cut.
func TestAuditMissingCheckpointOfASignedLogIsRefused(t *testing.T) {
	sl := newSignedLog(t, 5)
	_ = sl.log.Close()
	writeLines(t, sl.path, readLines(t, sl.path)[:3])
	if err := os.Remove(sl.cpPath); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSigned(sl.path, Signing{Signer: sl.signer})
	if err == nil || !strings.Contains(err.Error(), "ends with a signed entry (seq 3) but its checkpoint "+sl.cpPath+" is missing") {
		t.Fatalf("OpenSigned = %v, want it refused", err)
	}
	if _, err := os.Stat(sl.cpPath); err == nil {
		t.Error("a new checkpoint was written")
	}
}
