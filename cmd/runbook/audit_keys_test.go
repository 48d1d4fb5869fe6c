package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// TestAuditCLISigned: keygen, a signing worker's log, verify with the
// public key, a signed prune, then a cut tail and an emptied log.
func TestAuditCLISigned(t *testing.T) {
	isolateConfig(t)
	dir := t.TempDir()
	path, key, pub := filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "keys.pub")
	t.Setenv("RUNBOOK_AUDIT_LOG", path)
	t.Setenv("RUNBOOK_AUDIT_KEY_FILE", key)
	if out := mustRun(t, "audit", "keygen", "--key", key, "--public", pub); !strings.Contains(out, "private key "+key) {
		t.Errorf("keygen: %s", out)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key: %v, %v; want mode 0600", fi, err)
	}
	if _, _, err := run(t, "audit", "keygen", "--key", key, "--public", pub); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	appendSigned := func(ids ...int) {
		s, err := audit.OpenStore(t.Context(), path, "", audit.KeyConfig{KeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, i := range ids {
			e := audit.Entry{ID: fmt.Sprintf("e%d", i), Time: time.Date(2025, 6, i, 12, 0, 0, 0, time.UTC), Actor: "alice", Action: "step.succeeded"}
			if _, err := s.Append(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
	}

	appendSigned(1, 2, 3, 4, 5, 6)
	out := mustRun(t, "audit", "verify", "--public-key", pub)
	if !strings.Contains(out, "6 entries signed; reaches the checkpoint at seq 6") {
		t.Errorf("verify --public-key: %s", out)
	}
	out = mustRun(t, "audit", "prune", "--before", "2025-06-03")
	if !strings.Contains(out, "recorded as entry 7") {
		t.Errorf("prune: %s", out)
	}
	if out := mustRun(t, "audit", "verify", "--public-key", pub); !strings.Contains(out, "5 entries signed; reaches the checkpoint at seq 7") {
		t.Errorf("verify after a signed prune: %s", out)
	}

	appendSigned(8, 9)
	lines := strings.SplitAfter(readFile(t, path), "\n")
	if err := os.WriteFile(path, []byte(strings.Join(lines[:6], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "audit", "verify", "--public-key", pub)
	cp := audit.DefaultCheckpoint(path)
	if exit := asExit(t, err); exit.code != 1 || !strings.Contains(exit.msg, "the log ends at seq 8, but the checkpoint "+cp+" (seq 9") {
		t.Errorf("verify of a cut log: %q", exit.msg)
	}
	if _, _, err := run(t, "audit", "prune", "--before", "2025-06-05"); err == nil || !strings.Contains(asExit(t, err).msg, "expects it to reach seq 9") {
		t.Errorf("prune of a cut log: %v", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "audit", "verify", "--public-key", pub)
	if exit := asExit(t, err); exit.code != 1 || !strings.Contains(exit.msg, "the log is empty, but the checkpoint "+cp) {
		t.Errorf("verify of an emptied log: %q", exit.msg)
	}
	// Without the checkpoint, --public-key refuses to call the log complete.
	_, _, err = run(t, "audit", "verify", "--public-key", pub, "--checkpoint", filepath.Join(dir, "missing"))
	if exit := asExit(t, err); !strings.Contains(exit.msg, "no checkpoint at") {
		t.Errorf("verify without a checkpoint: %q", exit.msg)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuditCLISignedPostgres: verify --public-key on PostgreSQL checks the
// signed rows against the latest row of runbook_audit_checkpoint, and names
// it when entries were cut off the table's end behind the trigger's back.
func TestAuditCLISignedPostgres(t *testing.T) {
	isolateConfig(t)
	srv := auditPG(t)
	dsn, err := srv.CreateDatabase(t.Context(), pg.DatabaseName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "key.pem"), filepath.Join(dir, "keys.pub")
	t.Setenv("RUNBOOK_AUDIT_DSN", dsn)
	t.Setenv(audit.EnvDSNAllowOwner, "1") // the test's worker is the superuser
	mustRun(t, "audit", "keygen", "--key", key, "--public", pub)
	s, err := audit.OpenStore(t.Context(), "", audit.DSN(dsn), audit.KeyConfig{KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		e := audit.Entry{ID: fmt.Sprintf("e%d", i), Time: time.Date(2025, 6, i, 12, 0, 0, 0, time.UTC), Actor: "alice", Action: "step.succeeded"}
		if _, err := s.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	if out := mustRun(t, "audit", "verify", "--public-key", pub); !strings.Contains(out, "4 entries signed; reaches the checkpoint at seq 4 (checked: runbook_audit_checkpoint)") {
		t.Errorf("verify --public-key: %s", out)
	}
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(t.Context()) }()
	if _, err := c.Exec(t.Context(), "ALTER TABLE runbook_audit DISABLE TRIGGER USER; DELETE FROM runbook_audit WHERE seq > 2; ALTER TABLE runbook_audit ENABLE TRIGGER USER"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "audit", "verify") // the chain alone cannot tell
	_, _, err = run(t, "audit", "verify", "--public-key", pub)
	if exit := asExit(t, err); exit.code != 1 || !strings.Contains(exit.msg, "entries 3..4 were cut from its end") ||
		!strings.Contains(exit.msg, "checkpoint runbook_audit_checkpoint (seq 4") {
		t.Errorf("verify of a cut table: %q", exit.msg)
	}
}
