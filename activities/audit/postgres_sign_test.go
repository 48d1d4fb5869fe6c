package audit

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// signedPG is a PostgreSQL log set up as deploy/postgres does, written by
// a signing worker connected as the worker's role.
type signedPG struct {
	dsn, workerDSN string
	keyFile        string
	keys           Keyring
	store          Store
}

// newSignedPG sets up the roles, opens a signing worker (with the checkpoint
// file cpFile, if set) and appends n entries.
func newSignedPG(t *testing.T, n int, cpFile string) signedPG {
	t.Helper()
	sp := signedPG{dsn: pg.NewDatabase(t)}
	sp.workerDSN = ownerAndWorker(t, sp.dsn)
	dir := t.TempDir()
	_, sp.keys = keyPair(t, dir, "worker")
	sp.keyFile = filepath.Join(dir, "worker.pem")
	sp.store = sp.open(t, cpFile)
	appendN(t, sp.store, n)
	return sp
}

// open opens another signing worker on the table.
func (sp signedPG) open(t *testing.T, cpFile string) Store {
	t.Helper()
	s, err := OpenStore(t.Context(), "", DSN(sp.workerDSN), KeyConfig{KeyFile: sp.keyFile, Checkpoint: cpFile})
	if err != nil {
		t.Fatalf("OpenStore signing, as the worker role: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// verifyTrust verifies the table as `audit verify --public-key` does: the
// chain, the signatures and the latest checkpoint of the checkpoint table,
// plus the checkpoint file cpFile if set.
func (sp signedPG) verifyTrust(t *testing.T, cpFile string) (TrustResult, error) {
	t.Helper()
	r := openPG(t, sp.dsn)
	res, err := r.Verify(t.Context())
	if err != nil {
		t.Fatalf("chain: %v", err)
	}
	entries, err := r.Read(t.Context(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	tr := Trust{Keys: sp.keys}
	cp, err := r.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cp != nil {
		tr.Also = append(tr.Also, CheckpointAt{Checkpoint: *cp, Where: PGCheckpointTable})
	}
	if cpFile != "" {
		fcp, err := ReadCheckpoint(cpFile)
		if err != nil {
			t.Fatal(err)
		}
		tr.Checkpoint, tr.CheckpointPath = &fcp, cpFile
	}
	return VerifyTrust(entries, res, tr)
}

// asOwner runs sql as the owner role of the table (not a superuser), as an
// attacker holding the owner's credentials would.
func (sp signedPG) asOwner(t *testing.T, sql ...string) {
	t.Helper()
	owner := strings.Replace(mustParse(t, sp.workerDSN).User.Username(), "audit_worker_", "audit_owner_", 1)
	err := pgx.BeginFunc(t.Context(), connect(t, sp.dsn), func(tx pgx.Tx) error {
		for _, q := range append([]string{"SET LOCAL ROLE " + owner}, sql...) {
			if _, err := tx.Exec(t.Context(), q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("as the owner: %v", err)
	}
}

func wantCheckpointBroken(t *testing.T, err error, seq int64, msg ...string) {
	t.Helper()
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != seq {
		t.Fatalf("VerifyTrust = %v, want a broken chain at entry %d", err, seq)
	}
	for _, m := range msg {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("VerifyTrust = %v, want it to say %q", err, m)
		}
	}
}

// TestAuditPostgresSignedVerifies: the worker's role signs every row and
// checkpoints each append in runbook_audit_checkpoint; verification checks
// both with the public key.
func TestAuditPostgresSignedVerifies(t *testing.T) {
	sp := newSignedPG(t, 5, "")
	got, err := sp.verifyTrust(t, "")
	if err != nil || got.Signed != 5 || got.Unsigned != 0 || got.CheckpointSeq != 5 {
		t.Fatalf("VerifyTrust = %+v, %v; want 5 signed, checkpoint at 5", got, err)
	}
	// What the worker records in Temporal is the table's newest checkpoint.
	if cp, err := LatestCheckpoint(t.Context(), sp.store); err != nil || cp == nil || cp.Seq != 5 || cp.Verify(sp.keys) != nil {
		t.Errorf("LatestCheckpoint = %+v, %v; want the signed checkpoint at seq 5", cp, err)
	}
	var unsignedRows, checkpoints int
	c := connect(t, sp.dsn)
	if err := c.QueryRow(t.Context(), "SELECT count(*) FILTER (WHERE key_id = '' OR sig = '') FROM runbook_audit").Scan(&unsignedRows); err != nil || unsignedRows != 0 {
		t.Errorf("rows without key_id or sig: %d, %v", unsignedRows, err)
	}
	if err := c.QueryRow(t.Context(), "SELECT count(*) FROM runbook_audit_checkpoint").Scan(&checkpoints); err != nil || checkpoints != 5 {
		t.Errorf("checkpoints: %d, %v; want one per append", checkpoints, err)
	}
	// A signature moved from another row does not verify.
	pgTamper(sp.dsn).do(t, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), "UPDATE runbook_audit SET sig = (SELECT sig FROM runbook_audit WHERE seq = 2) WHERE seq = 4")
		return err
	})
	_, err = sp.verifyTrust(t, "")
	wantCheckpointBroken(t, err, 4, "does not verify")
}

// TestAuditPostgresOwnerCutsTheTail: an attacker with the owner's role cuts
// the last entries, or all of them, behind the trigger's back; verification
// names the checkpoint the table no longer reaches, and a signing worker
// refuses to append over the cut. The worker's role cannot remove
// checkpoints at all, nor can the owner without disabling the trigger.
func TestAuditPostgresOwnerCutsTheTail(t *testing.T) {
	sp := newSignedPG(t, 5, "")
	sp.asOwner(t, "ALTER TABLE runbook_audit DISABLE TRIGGER USER", "DELETE FROM runbook_audit WHERE seq > 3", "ALTER TABLE runbook_audit ENABLE TRIGGER USER")
	_, err := sp.verifyTrust(t, "")
	wantCheckpointBroken(t, err, 4, "entries 4..5 were cut from its end", PGCheckpointTable+" (seq 5, hash")
	if _, err := sp.store.Append(t.Context(), entry(6)); err == nil || !strings.Contains(err.Error(), "cut from its end") {
		t.Errorf("Append after the cut = %v, want it refused", err)
	}
	if _, err := OpenStore(t.Context(), "", DSN(sp.workerDSN), KeyConfig{KeyFile: sp.keyFile}); err == nil || !strings.Contains(err.Error(), "cut from its end") {
		t.Errorf("OpenStore after the cut = %v, want it refused", err)
	}

	sp.asOwner(t, "ALTER TABLE runbook_audit DISABLE TRIGGER USER", "DELETE FROM runbook_audit", "ALTER TABLE runbook_audit ENABLE TRIGGER USER")
	_, err = sp.verifyTrust(t, "")
	wantCheckpointBroken(t, err, 1, "the log is empty", PGCheckpointTable+" (seq 5")

	w := connect(t, sp.workerDSN)
	for _, sql := range []string{
		"DELETE FROM runbook_audit_checkpoint",
		"UPDATE runbook_audit_checkpoint SET seq = 3 WHERE seq = 5",
		"TRUNCATE runbook_audit_checkpoint",
		"ALTER TABLE runbook_audit_checkpoint DISABLE TRIGGER USER",
	} {
		if _, err := w.Exec(t.Context(), sql); err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s as the worker role: %v, want it refused", sql, err)
		}
	}
	o := connect(t, sp.dsn)
	if _, err := o.Exec(t.Context(), "DELETE FROM runbook_audit_checkpoint WHERE seq = 5"); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("DELETE of a checkpoint with the trigger on: %v, want the trigger's refusal", err)
	}
}

// TestAuditPostgresCheckpointFile: a checkpoint file kept beside the table
// catches an owner who cut both the entries and their checkpoint rows.
func TestAuditPostgresCheckpointFile(t *testing.T) {
	cpFile := filepath.Join(t.TempDir(), "audit.checkpoint")
	sp := newSignedPG(t, 5, cpFile)
	if got, err := sp.verifyTrust(t, cpFile); err != nil || got.CheckpointSeq != 5 || len(got.CheckpointsChecked) != 2 {
		t.Fatalf("VerifyTrust with the file = %+v, %v", got, err)
	}
	sp.asOwner(t,
		"ALTER TABLE runbook_audit DISABLE TRIGGER USER", "DELETE FROM runbook_audit WHERE seq > 3", "ALTER TABLE runbook_audit ENABLE TRIGGER USER",
		"ALTER TABLE runbook_audit_checkpoint DISABLE TRIGGER USER", "DELETE FROM runbook_audit_checkpoint WHERE seq > 3",
		"ALTER TABLE runbook_audit_checkpoint ENABLE TRIGGER USER")
	if _, err := sp.verifyTrust(t, ""); err != nil {
		t.Fatalf("the table alone cannot see a cut of both tables, yet VerifyTrust = %v", err)
	}
	_, err := sp.verifyTrust(t, cpFile)
	wantCheckpointBroken(t, err, 4, "entries 4..5 were cut from its end", cpFile)
	if _, err := sp.store.Append(t.Context(), entry(6)); err == nil || !strings.Contains(err.Error(), cpFile) {
		t.Errorf("Append after the cut = %v, want it refused naming %s", err, cpFile)
	}
}

// TestAuditPostgresCheckpointsDeleted: a signed table whose checkpoints were
// all removed is refused by a signing worker, which would otherwise start
// over and bless a cut.
func TestAuditPostgresCheckpointsDeleted(t *testing.T) {
	sp := newSignedPG(t, 3, "")
	sp.asOwner(t, "ALTER TABLE runbook_audit_checkpoint DISABLE TRIGGER USER", "DELETE FROM runbook_audit_checkpoint",
		"ALTER TABLE runbook_audit_checkpoint ENABLE TRIGGER USER")
	_, err := OpenStore(t.Context(), "", DSN(sp.workerDSN), KeyConfig{KeyFile: sp.keyFile})
	if err == nil || !strings.Contains(err.Error(), "ends with a signed entry but "+PGCheckpointTable+" is empty") {
		t.Fatalf("OpenStore = %v, want it refused", err)
	}
}

// TestAuditPostgresUnsignedThenSigned: rows written before signing was set
// up stay verifiable as unsigned; the signing worker checkpoints the tail it
// finds and signs from there on, and a signed prune keeps verifying.
func TestAuditPostgresUnsignedThenSigned(t *testing.T) {
	sp := newSignedPG(t, 0, "")
	plain, err := OpenStore(t.Context(), "", DSN(sp.workerDSN), KeyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	appendN(t, plain, 3)
	s := sp.open(t, "")
	for i := 4; i <= 5; i++ {
		if _, err := s.Append(t.Context(), entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sp.verifyTrust(t, "")
	if err != nil || got.Signed != 2 || got.Unsigned != 3 || got.UnsignedFirst != 1 || got.UnsignedLast != 3 || got.CheckpointSeq != 5 {
		t.Fatalf("VerifyTrust = %+v, %v; want 3 unsigned then 2 signed", got, err)
	}
	// An unsigned row after signed ones is a rewrite by someone without the key.
	if _, err := plain.Append(t.Context(), entry(6)); err != nil {
		t.Fatal(err)
	}
	_, err = sp.verifyTrust(t, "")
	wantCheckpointBroken(t, err, 6, "unsigned, but entry 5 before it is signed")
}

// TestAuditPostgresUpgradesUnsignedSchema: a table made before rows were
// signed still reads and verifies; runbook_worker refuses it, saying what it
// lacks; a worker allowed to own it adds the columns and the checkpoint
// table, owned by the table's owner and open to the worker's role, and the
// old rows stay verifiable as unsigned.
func TestAuditPostgresUpgradesUnsignedSchema(t *testing.T) {
	sp := newSignedPG(t, 0, "")
	plain, err := OpenStore(t.Context(), "", DSN(sp.workerDSN), KeyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, plain, 2)
	_ = plain.Close()
	c := connect(t, sp.dsn)
	for _, sql := range []string{
		"DROP TABLE runbook_audit_checkpoint",
		"DROP FUNCTION runbook_audit_checkpoint_append_only()",
		"ALTER TABLE runbook_audit DROP COLUMN key_id, DROP COLUMN sig",
	} {
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	wantIntact(t, openPG(t, sp.dsn), 2, 1, 2)
	t.Setenv(EnvDSNAllowOwner, "")
	_, err = OpenStore(t.Context(), "", DSN(sp.workerDSN), KeyConfig{KeyFile: sp.keyFile})
	if !errors.Is(err, ErrSchemaOutdated) || !strings.Contains(err.Error(), "key_id and sig columns") {
		t.Fatalf("OpenStore as the worker on an unsigned table = %v, want ErrSchemaOutdated naming the columns", err)
	}
	t.Setenv(EnvDSNAllowOwner, "1")
	up, err := OpenStore(t.Context(), "", DSN(sp.dsn), KeyConfig{})
	if err != nil {
		t.Fatalf("upgrade as the superuser: %v", err)
	}
	_ = up.Close()
	var owner string
	if err := c.QueryRow(t.Context(), "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'runbook_audit_checkpoint'::regclass").Scan(&owner); err != nil ||
		!strings.HasPrefix(owner, "audit_owner_") {
		t.Errorf("runbook_audit_checkpoint is owned by %q (%v), want the table's owner", owner, err)
	}
	t.Setenv(EnvDSNAllowOwner, "")
	s := sp.open(t, "")
	if _, err := s.Append(t.Context(), entry(3)); err != nil {
		t.Fatalf("signed Append as the worker after the upgrade: %v", err)
	}
	got, err := sp.verifyTrust(t, "")
	if err != nil || got.Signed != 1 || got.Unsigned != 2 || got.CheckpointSeq != 3 {
		t.Fatalf("VerifyTrust after the upgrade = %+v, %v; want 2 unsigned, 1 signed, checkpoint at 3", got, err)
	}
}

// TestAuditPostgresSignedPrune: the audit.pruned entry is signed and
// checkpointed like any other, so a pruned table keeps verifying.
func TestAuditPostgresSignedPrune(t *testing.T) {
	sp := newSignedPG(t, 5, "")
	res, err := sp.store.Prune(t.Context(), PruneInput{Before: t0.Add(2500 * time.Millisecond), Now: t0.Add(time.Hour)})
	if err != nil || res.Removed != 2 || res.Entry.KeyID == "" || res.Entry.Sig == "" {
		t.Fatalf("Prune = %+v, %v; want 2 removed, the prune entry signed", res, err)
	}
	got, err := sp.verifyTrust(t, "")
	if err != nil || got.Signed != 4 || got.CheckpointSeq != 6 {
		t.Fatalf("VerifyTrust after the prune = %+v, %v; want 4 signed, checkpoint at 6", got, err)
	}
}
