package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// TestAuditPostgresColumnEdit: a column edited without its record is caught,
// so the columns people query cannot drift from what the hash covers.
func TestAuditPostgresColumnEdit(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openPG(t, dsn)
	appendN(t, s, 3)
	pgTamper(dsn).do(t, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), "UPDATE runbook_audit SET actor = 'mallory', break_glass = true WHERE seq = 2")
		return err
	})
	wantBrokenAt(t, s, 2, "column actor, break_glass differs from the hashed record")
	// A worker starting on the tampered table refuses it, like a tampered file.
	t.Setenv(EnvDSNAllowOwner, "1") // the test connects as the superuser
	if _, err := OpenStore(t.Context(), "", DSN(dsn), KeyConfig{}); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("OpenStore on a tampered table = %v, want it refused naming entry 2", err)
	}
}

// TestAuditPostgresIsAppendOnly: the trigger refuses UPDATE, DELETE and
// TRUNCATE even to the table's owner, outside runbook_audit_prune.
func TestAuditPostgresIsAppendOnly(t *testing.T) {
	dsn := pg.NewDatabase(t)
	s := openPG(t, dsn)
	appendN(t, s, 3)
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(t.Context()) }()
	for _, sql := range []string{
		"UPDATE runbook_audit SET outcome = 'failed' WHERE seq = 2",
		"DELETE FROM runbook_audit WHERE seq = 1",
		"TRUNCATE runbook_audit",
		"SELECT runbook_audit_prune(1, 1, (SELECT hash FROM runbook_audit WHERE seq = 1), now())",
	} {
		_, err := c.Exec(t.Context(), sql)
		if err == nil || !strings.Contains(err.Error(), "runbook_audit") {
			t.Errorf("%s: %v, want a refusal", sql, err)
		}
	}
	wantIntact(t, s, 3, 1, 3)
}

// TestAuditPostgresWorkerRole: in the team set-up the worker's role may
// read, append and prune through the function, but not delete or update.
func TestAuditPostgresWorkerRole(t *testing.T) {
	dsn := pg.NewDatabase(t)
	appendN(t, openPG(t, dsn), 10) // the owner creates the table
	role := fmt.Sprintf("audit_worker_%d", time.Now().UnixNano())
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(t.Context()) }()
	for _, sql := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD 'worker-secret'",
		"GRANT SELECT, INSERT ON runbook_audit TO " + role,
		"GRANT EXECUTE ON FUNCTION runbook_audit_prune(bigint, bigint, text, timestamptz) TO " + role,
	} {
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(role, "worker-secret")
	w := openPG(t, u.String())
	if e, err := w.Append(t.Context(), entry(11)); err != nil || e.Seq != 11 {
		t.Fatalf("Append as the worker role = %+v, %v", e, err)
	}
	wc, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = wc.Close(t.Context()) }()
	if _, err := wc.Exec(t.Context(), "BEGIN; SET LOCAL runbook.audit_prune = 'on'; DELETE FROM runbook_audit WHERE seq = 1; COMMIT"); err == nil ||
		!strings.Contains(err.Error(), "permission denied") {
		t.Errorf("DELETE as the worker role: %v, want permission denied", err)
	}
	_, _ = wc.Exec(t.Context(), "ROLLBACK")
	res, err := w.Prune(t.Context(), PruneInput{Before: t0.Add(4500 * time.Millisecond), Now: t0.Add(time.Hour)})
	if err != nil || res.Removed != 4 {
		t.Fatalf("Prune as the worker role = %+v, %v", res, err)
	}
	wantIntact(t, w, 8, 5, 12)
}

// TestAuditPostgresDSNIsSecret: the password shows in no error, string, log
// or JSON.
func TestAuditPostgresDSNIsSecret(t *testing.T) {
	s := pg.Shared(t)
	u, _ := url.Parse(pg.NewDatabase(t))
	u.User = url.UserPassword(s.User, "wrong-"+s.Password)
	for _, dsn := range []string{
		u.String(),
		fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable password='wrong-%s'", s.Host, s.Port, s.User, s.Password),
	} {
		_, err := OpenPostgres(t.Context(), dsn)
		if err == nil {
			t.Fatal("a wrong password was accepted")
		}
		d := DSN(dsn)
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "dsn", d)
		asJSON, _ := json.Marshal(struct{ DSN DSN }{d})
		shown := strings.Join([]string{err.Error(), d.String(), fmt.Sprintf("%v %s %q %#v %+v", d, d, d, d, struct{ D DSN }{d}),
			logged.String(), string(asJSON)}, "\n")
		for _, secret := range []string{s.Password, url.QueryEscape(s.Password), "wrong-"} {
			if strings.Contains(shown, secret) {
				t.Errorf("the password %q shows:\n%s", secret, shown)
			}
		}
		if !strings.Contains(d.String(), "xxxxx") {
			t.Errorf("DSN.String() = %q, want the password replaced by xxxxx", d)
		}
	}
}

func TestAuditLoadDSN(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(file, []byte("postgres://u:s3cret@db/audit\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		value, file, want, err string
	}{
		{"", "", "", ""},
		{" postgres://u:s3cret@db/audit ", "", "postgres://u:s3cret@db/audit", ""},
		{"", file, "postgres://u:s3cret@db/audit", ""},
		{"postgres://x", file, "", "not both"},
		{"", file + ".missing", "", EnvDSNFile},
	} {
		got, err := LoadDSN(tc.value, tc.file)
		if string(got) != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("LoadDSN(%q, %q) = %q, %v; want %q, %q", tc.value, tc.file, got, err, tc.want, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error quotes the DSN: %v", err)
		}
	}
}

// TestAuditActivityOnPostgres: the activity appends through the PostgreSQL
// store and classifies a broken table as retryable.
func TestAuditActivityOnPostgres(t *testing.T) {
	dsn := pg.NewDatabase(t)
	a := &Activities{Log: openPG(t, dsn)}
	first, err := a.AppendAudit(t.Context(), AppendAuditInput{Entry: entry(1)})
	if err != nil || first.Seq != 1 {
		t.Fatalf("AppendAudit = %+v, %v", first, err)
	}
	if again, err := a.AppendAudit(t.Context(), AppendAuditInput{Entry: entry(1)}); err != nil || again != first {
		t.Errorf("retry = %+v, %v; want %+v", again, err, first)
	}
	pgTamper(dsn).edit(t, 1, failOutcome)
	_, err = a.AppendAudit(t.Context(), AppendAuditInput{Entry: entry(2)})
	assertAppErr(t, err, ErrTypeLogBroken, false)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != 1 {
		t.Errorf("err = %v, want the broken entry 1", err)
	}
}
