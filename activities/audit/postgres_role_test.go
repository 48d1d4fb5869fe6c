package audit

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/internal/testenv/pg"
)

// TestAuditPostgresSchemaMatchesDeploy: the schema deploy/postgres creates as
// the owner is the worker's own, so a developer database and the team set-up
// behave alike.
func TestAuditPostgresSchemaMatchesDeploy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "postgres", "10-runbook-audit.sql"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(b), "-- BEGIN runbook audit schema")
	schema, _, ok2 := strings.Cut(rest, "-- END runbook audit schema")
	if !ok1 || !ok2 {
		t.Fatal("deploy/postgres/10-runbook-audit.sql lacks the BEGIN/END runbook audit schema markers")
	}
	if want := pgSchemaIn("public"); schema != want {
		t.Errorf("the schema in deploy/postgres/10-runbook-audit.sql differs from pgSchemaIn(\"public\"); copy it over:\n%s", want)
	}
}

// ownerAndWorker sets dsn's database up as deploy/postgres does, with role
// names of this test's own (roles belong to the whole server): an owner
// that owns the schema and the audit objects, and a worker that may only
// SELECT, INSERT and EXECUTE the prune function. It returns the worker's DSN.
func ownerAndWorker(t *testing.T, dsn string) string {
	t.Helper()
	suffix := time.Now().UnixNano()
	owner, worker := fmt.Sprintf("audit_owner_%d", suffix), fmt.Sprintf("audit_worker_%d", suffix)
	db := strings.TrimPrefix(mustParse(t, dsn).Path, "/")
	c := connect(t, dsn)
	for _, sql := range []string{
		"CREATE ROLE " + owner + " NOLOGIN",
		"CREATE ROLE " + worker + " LOGIN PASSWORD 'worker-secret'",
		"REVOKE ALL ON DATABASE " + db + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + db + " TO " + worker,
		"ALTER SCHEMA public OWNER TO " + owner,
		"REVOKE ALL ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE ON SCHEMA public TO " + worker,
		"SET ROLE " + owner,
		pgSchemaIn("public"),
		"GRANT SELECT, INSERT ON runbook_audit TO " + worker,
		"GRANT SELECT, INSERT ON runbook_audit_checkpoint TO " + worker,
		"GRANT EXECUTE ON FUNCTION runbook_audit_prune(bigint, bigint, text, timestamptz) TO " + worker,
		"RESET ROLE",
	} {
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%.60s: %v", sql, err)
		}
	}
	u := mustParse(t, dsn)
	u.User = url.UserPassword(worker, "worker-secret")
	return u.String()
}

func mustParse(t *testing.T, dsn string) *url.URL {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(t.Context()) })
	return c
}

// TestAuditPostgresWorkerCannotUndo: as the worker's role an attacker with
// its credentials can neither edit, delete, empty nor unguard the table, nor
// lower the prune's minimum age; the worker itself appends and reads.
func TestAuditPostgresWorkerCannotUndo(t *testing.T) {
	workerDSN := ownerAndWorker(t, pg.NewDatabase(t))
	s, err := OpenStore(t.Context(), "", DSN(workerDSN), KeyConfig{})
	if err != nil {
		t.Fatalf("OpenStore as the worker role: %v", err)
	}
	defer s.Close()
	appendN(t, s, 3)
	c := connect(t, workerDSN)
	for _, sql := range []string{
		"UPDATE runbook_audit SET actor = 'mallory' WHERE seq = 2",
		"DELETE FROM runbook_audit WHERE seq = 1",
		"TRUNCATE runbook_audit",
		"DROP TRIGGER runbook_audit_append_only ON runbook_audit",
		"ALTER TABLE runbook_audit DISABLE TRIGGER USER",
		"DROP TABLE runbook_audit",
		"UPDATE runbook_audit_settings SET min_age = interval '1 day'",
		"CREATE OR REPLACE FUNCTION runbook_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN OLD; END$$",
		"CREATE TABLE public.shadow (x int)",
		"CREATE TEMP TABLE runbook_audit_settings (min_age interval)",
	} {
		if _, err := c.Exec(t.Context(), sql); err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s as the worker role: %v, want it refused", sql, err)
		}
	}
	wantIntact(t, s, 3, 1, 3)

	// Given more than that, the worker refuses to start.
	role := mustParse(t, workerDSN).User.Username()
	for _, grant := range []string{"DELETE ON runbook_audit", "UPDATE ON runbook_audit_settings", "CREATE ON SCHEMA public"} {
		owner := connect(t, pgOwnerDSN(t, workerDSN))
		if _, err := owner.Exec(t.Context(), "GRANT "+grant+" TO "+role); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenStore(t.Context(), "", DSN(workerDSN), KeyConfig{}); !errors.Is(err, ErrOwnerRole) {
			t.Errorf("OpenStore as the worker role with %s = %v, want ErrOwnerRole", grant, err)
		}
		if _, err := owner.Exec(t.Context(), "REVOKE "+grant+" FROM "+role); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditPostgresPruneMinimumAge: the prune function refuses a cut younger
// than runbook_audit_settings.min_age itself. The Go side does not check it,
// so this is the database refusing, and nothing is removed or recorded.
func TestAuditPostgresPruneMinimumAge(t *testing.T) {
	workerDSN := ownerAndWorker(t, pg.NewDatabase(t))
	s, err := OpenStore(t.Context(), "", DSN(workerDSN), KeyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for i, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, time.Hour} {
		e := entry(i + 1)
		e.Time = now.Add(-age)
		if _, err := s.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	// The default minimum is 30 days: a cut of an hour ago is refused.
	_, err = s.Prune(t.Context(), PruneInput{Before: now.Add(-30 * time.Minute), Now: now})
	if err == nil || !strings.Contains(err.Error(), "younger than the minimum age") {
		t.Fatalf("Prune of a 30-minute-old cut = %v, want the function's minimum-age refusal", err)
	}
	wantIntact(t, s, 3, 1, 3)
	// The owner lowers the minimum to its floor of one day: a cut 36h ago
	// then removes the first entry, and one of 2h ago is still refused.
	if _, err := connect(t, pgOwnerDSN(t, workerDSN)).Exec(t.Context(), "UPDATE runbook_audit_settings SET min_age = interval '1 day'"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Prune(t.Context(), PruneInput{Before: now.Add(-60 * time.Hour), Now: now}); err != nil || res.Removed != 1 {
		t.Fatalf("Prune of a 60h-old cut with min_age 1 day = %+v, %v", res, err)
	}
	if _, err := s.Prune(t.Context(), PruneInput{Before: now.Add(-2 * time.Hour), Now: now}); err == nil || !strings.Contains(err.Error(), "minimum age") {
		t.Errorf("Prune of a 2h-old cut with min_age 1 day = %v, want refused", err)
	}
	wantIntact(t, s, 3, 2, 4)
}

// pgOwnerDSN is workerDSN with the superuser's credentials.
func pgOwnerDSN(t *testing.T, workerDSN string) string {
	srv := pg.Shared(t)
	u := mustParse(t, workerDSN)
	u.User = url.UserPassword(srv.User, srv.Password)
	return u.String()
}

// TestAuditPostgresRefusesOwnerRole: the worker will not write the log as a
// role that could alter it, and says how to fix that; the developer setting
// lets it, creating the table on an empty database.
func TestAuditPostgresRefusesOwnerRole(t *testing.T) {
	dsn := pg.NewDatabase(t)
	t.Setenv(EnvDSNAllowOwner, "")
	_, err := OpenStore(t.Context(), "", DSN(dsn), KeyConfig{})
	if !errors.Is(err, ErrOwnerRole) {
		t.Fatalf("OpenStore as the superuser on an empty database = %v, want ErrOwnerRole", err)
	}
	for _, want := range []string{"superuser", "does not exist", "runbook_worker", "deploy/postgres", EnvDSNAllowOwner + "=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	var exists bool
	if err := connect(t, dsn).QueryRow(t.Context(), "SELECT to_regclass('runbook_audit') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Errorf("the refused worker created the table (%v, %v)", exists, err)
	}

	t.Setenv(EnvDSNAllowOwner, "1")
	s, err := OpenStore(t.Context(), "", DSN(dsn), KeyConfig{})
	if err != nil {
		t.Fatalf("OpenStore as the superuser with %s=1: %v", EnvDSNAllowOwner, err)
	}
	appendN(t, s, 2)
	_ = s.Close()

	// The owner of the table, not a superuser, is refused as well.
	owner := fmt.Sprintf("audit_owner_%d", time.Now().UnixNano())
	c := connect(t, dsn)
	for _, sql := range []string{
		"CREATE ROLE " + owner + " LOGIN PASSWORD 'owner-secret'",
		"ALTER TABLE runbook_audit OWNER TO " + owner,
	} {
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	u := mustParse(t, dsn)
	u.User = url.UserPassword(owner, "owner-secret")
	t.Setenv(EnvDSNAllowOwner, "")
	_, err = OpenStore(t.Context(), "", DSN(u.String()), KeyConfig{})
	if !errors.Is(err, ErrOwnerRole) || !strings.Contains(err.Error(), "table runbook_audit") || strings.Contains(err.Error(), "owner-secret") {
		t.Errorf("OpenStore as the table's owner = %v, want ErrOwnerRole naming the table, without the password", err)
	}
}

// TestAuditPostgresUpgradesOldSchema: a table made before the settings
// existed has a prune function without a minimum age. runbook_worker refuses
// it, saying how to upgrade; a worker allowed to own the table upgrades it.
func TestAuditPostgresUpgradesOldSchema(t *testing.T) {
	dsn := pg.NewDatabase(t)
	workerDSN := ownerAndWorker(t, dsn)
	if _, err := connect(t, dsn).Exec(t.Context(), "DROP TABLE runbook_audit_settings"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDSNAllowOwner, "")
	_, err := OpenStore(t.Context(), "", DSN(workerDSN), KeyConfig{})
	if !errors.Is(err, ErrSchemaOutdated) || !strings.Contains(err.Error(), EnvDSNAllowOwner+"=1") {
		t.Fatalf("OpenStore as the worker on an old table = %v, want ErrSchemaOutdated saying how to upgrade", err)
	}
	t.Setenv(EnvDSNAllowOwner, "1")
	s, err := OpenStore(t.Context(), "", DSN(dsn), KeyConfig{})
	if err != nil {
		t.Fatalf("OpenStore as the superuser with %s=1 on an old table: %v", EnvDSNAllowOwner, err)
	}
	_ = s.Close()
	t.Setenv(EnvDSNAllowOwner, "")
	w, err := OpenStore(t.Context(), "", DSN(workerDSN), KeyConfig{})
	if err != nil {
		t.Fatalf("OpenStore as the worker after the upgrade: %v", err)
	}
	defer w.Close()
	e := entry(1)
	e.Time = time.Now().Add(-time.Hour)
	if _, err := w.Append(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Prune(t.Context(), PruneInput{Before: time.Now().Add(-time.Minute)}); err == nil || !strings.Contains(err.Error(), "minimum age") {
		t.Errorf("Prune of a young cut after the upgrade = %v, want the minimum-age refusal", err)
	}
}
