package test

// Schema migrations end to end: releases whose migrate steps run
// golang-migrate through a real `runbook worker` on a real PostgreSQL (a
// password-authenticated user, the connection string only in the worker's
// environment as DB_URL) or on SQLite, steered through the CLI: expand then
// roll back (down, or kept when not reversible), a failing migration that
// waits for retry and force, contract migrations refused in an expand phase
// and gated in a contract phase, two releases contending for one database's
// lock, and the connection string in no history, status, audit record or
// worker output.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read the Postgres schema
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/converter"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read the SQLite schema

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

// dbVar is the worker's environment variable the runbooks refer to.
const dbVar = "DB_URL"

// migrateRunbook is one staging environment with a database; the steps
// come from the test.
const migrateRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    database:
      url: env:DB_URL
      driver: {{.X.Driver}}
      migrations: {{.X.Migrations}}
    steps:
{{.X.Steps}}`

// Steps of the runbooks above.
const (
	expandThenGoLive = `      - name: schema
        migrate:
          phase: expand
      - name: go-live
        approval:
          approvers: [bob]
          instructions: Check the new version against the new schema.
`
	expandOnly = `      - name: schema
        migrate:
          phase: expand
`
	expandThenContract = `      - name: schema
        migrate:
          phase: expand
          to: 2
      - name: drop-note
        migrate:
          phase: contract
          approvers: [bob]
`
)

// fixedSKU is 003_add_sku.up.sql of testdata/migrations/failing, repaired.
const fixedSKU = `-- runbook: reversible
ALTER TABLE items ADD COLUMN sku TEXT;
INSERT INTO items (id, name, sku) VALUES (1, 'first', 'x');
`

// pgServer is the PostgreSQL server of TestMigrations' subtests: started by
// the first subtest that needs it, stopped when they have all ended.
type pgServer struct {
	once sync.Once
	srv  *pg.Server
	err  error
}

// TestMigrations runs the migration tests as parallel subtests, so they
// share one PostgreSQL server (a database each) that stops after the last.
func TestMigrations(t *testing.T) {
	t.Parallel()
	pgs := &pgServer{}
	t.Cleanup(func() {
		if pgs.srv != nil {
			if err := pgs.srv.Stop(); err != nil {
				t.Logf("stop PostgreSQL: %v", err)
			}
		}
	})
	tests := []struct {
		name string
		fn   func(*testing.T, *pgServer)
	}{
		{"ExpandThenRejectMigratesDown", testExpandRejectDown},
		{"ExpandThenRejectKeepsIrreversible", testExpandRejectKept},
		{"FailingMigrationRetryForceSQLite", func(t *testing.T, _ *pgServer) { testFailingMigration(t, sqliteDB(t)) }},
		{"FailingMigrationRetryForcePostgres", func(t *testing.T, pgs *pgServer) { testFailingMigration(t, pgs.database(t)) }},
		{"ContractRefusedInExpandPhase", testContractRefused},
		{"ContractGatedInContractPhase", testContractGated},
		{"TwoReleasesContendForOneDatabase", testConcurrentReleases},
		{"AbortWhileMigrating", testAbortWhileMigrating},
		{"AbortAtDirtyMigrationSQLite", func(t *testing.T, _ *pgServer) { testAbortAtDirtyMigration(t, sqliteDB(t)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, pgs)
		})
	}
}

// testDB is a database of one test: its connection string (a secret) and
// how to read its schema.
type testDB struct {
	driver string // migrate.Postgres or migrate.SQLite
	dsn    string
	name   string // postgres: the database name; sqlite: the file
	pg     *pg.Server
}

// database creates a database for the test on the shared server (dropped
// when the test ends). Without the PostgreSQL binaries the test is skipped,
// unless CI is set.
func (p *pgServer) database(t *testing.T) testDB {
	t.Helper()
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p.srv, p.err = pg.Start(ctx)
	})
	if p.err != nil {
		if errors.Is(p.err, pg.ErrNotInstalled) && os.Getenv("CI") == "" {
			t.Skip(p.err)
		}
		t.Fatalf("PostgreSQL test server: %v", p.err)
	}
	name := pg.DatabaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := p.srv.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.srv.DropDatabase(ctx, name); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return testDB{driver: migrate.Postgres, dsn: dsn, name: name, pg: p.srv}
}

// sqliteDB is a SQLite database file in the test's directory.
func sqliteDB(t *testing.T) testDB {
	path := filepath.Join(t.TempDir(), "app.db")
	return testDB{driver: migrate.SQLite, dsn: "sqlite://" + path, name: path}
}

func (d testDB) open(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", d.dsn
	if d.driver == migrate.SQLite {
		driver, dsn = "sqlite", d.name
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", d.name, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// columns returns the columns of table, sorted; nil when it does not exist.
func (d testDB) columns(t *testing.T, table string) []string {
	t.Helper()
	q := "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
	if d.driver == migrate.SQLite {
		q = "SELECT name FROM pragma_table_info(?)"
	}
	rows, err := d.open(t).Query(q, table)
	if err != nil {
		t.Fatalf("columns of %s: %v", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// version reads golang-migrate's table: the version and dirty flag, and
// how many rows it has (golang-migrate keeps exactly one, none when empty).
func (d testDB) version(t *testing.T) (version int64, dirty bool, rows int) {
	t.Helper()
	db := d.open(t)
	if err := db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatalf("schema_migrations: %v", err)
	}
	if rows == 0 {
		return -1, false, 0
	}
	if err := db.QueryRow("SELECT version, dirty FROM schema_migrations").Scan(&version, &dirty); err != nil {
		t.Fatalf("schema_migrations: %v", err)
	}
	return version, dirty, rows
}

func (d testDB) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := d.open(t).QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// copyMigrations copies testdata/migrations/name into the test's directory,
// so the test may edit its files.
func copyMigrations(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "migrations", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return dst
}

// migrateRig is a rig whose worker alone holds the database's connection
// string, as DB_URL.
func migrateRig(t *testing.T, name string, db testDB, migrations, steps string) (r *rig, w *workerProc, path, digest string) {
	t.Helper()
	r = newRig(t, name)
	r.env = withoutVar(r.env, dbVar) // the CLI never has it
	w = r.startWorker(dbVar + "=" + db.dsn)
	path, digest = r.writeRunbook("runbook.yaml", migrateRunbook, map[string]any{
		"Driver": db.driver, "Migrations": migrations, "Steps": steps,
	})
	return r, w, path, digest
}

// withDB is the CLI's environment plus DB_URL, for `runbook migrate status`,
// which reads the database from the CLI's own process.
func withDB(r *rig, db testDB) []string {
	return append(slices.Clone(r.env), dbVar+"="+db.dsn)
}

// compensation returns the rollback plan's entry of step.
func compensation(t *testing.T, e workflows.EnvironmentStatus, stepName string) workflows.CompensationStatus {
	t.Helper()
	for _, c := range e.Compensations {
		if c.Step == stepName {
			return c
		}
	}
	t.Fatalf("environment %s has no compensation of %s: %+v", e.Name, stepName, e.Compensations)
	return workflows.CompensationStatus{}
}

// hasAuditOutcome reports whether recs hold action on step with outcome.
func hasAuditOutcome(recs []map[string]any, action, stepName, outcome string) bool {
	return slices.ContainsFunc(recs, func(e map[string]any) bool {
		return e["action"] == action && e["step"] == stepName && e["outcome"] == outcome
	})
}

// testExpandRejectDown: the expand step migrates 0 → 2 before the go-live
// gate; bob rejects, and the compensation migrates down to the recorded
// version, none: the table is gone. Nothing of the DSN leaks.
func testExpandRejectDown(t *testing.T, pgs *pgServer) {
	db := pgs.database(t)
	r, w, path, digest := migrateRig(t, "mig-down", db, copyMigrations(t, "expand"), expandThenGoLive)

	id := r.deploy(path, digest, "1.0.0", requester)
	st := r.waitFor(id, "gate go-live waiting", gateWaiting("staging", "go-live"))
	if got := db.columns(t, "items"); !slices.Equal(got, []string{"id", "name", "note"}) {
		t.Fatalf("items has columns %v after the expand step, want id, name, note", got)
	}
	if v, dirty, _ := db.version(t); v != 2 || dirty {
		t.Fatalf("schema version %d dirty %t, want 2 clean", v, dirty)
	}
	stg := env(t, st, "staging")
	if s := step(t, stg, "schema"); s.State != workflows.StateSucceeded || !strings.Contains(s.Detail, "migrated 0 → 2") {
		t.Errorf("staging/schema is %s (%q), want succeeded, migrated 0 → 2", s.State, s.Detail)
	}
	if c := compensation(t, stg, "schema"); c.State != workflows.StatePending || c.Action != "migrate the schema down to empty" {
		t.Errorf("rollback plan of schema: %+v, want pending: migrate the schema down to empty", c)
	}

	r.mustCLI("reject", id, "--as", "bob", "--comment", "not today")
	st = r.waitFor(id, "release finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	stg = env(t, st, "staging")
	if c := compensation(t, stg, "schema"); c.State != workflows.StateDone {
		t.Errorf("compensation of schema is %s (%s), want done", c.State, c.Error)
	}
	if s := step(t, stg, "schema"); s.State != workflows.StateCompensated {
		t.Errorf("staging/schema is %s, want compensated", s.State)
	}
	if got := db.columns(t, "items"); got != nil {
		t.Errorf("items still has columns %v after the rollback; want the table dropped", got)
	}
	if v, _, rows := db.version(t); rows != 0 {
		t.Errorf("schema_migrations holds version %d after migrating down to none; want no version", v)
	}
	recs := r.auditRecords(id)
	if !hasAuditOutcome(recs, "compensation.ran", "schema", workflows.StateDone) {
		t.Errorf("audit log has no compensation.ran of schema with outcome done")
	}
	assertNoDSN(t, r, st, db, w)
}

// testExpandRejectKept: migration 2 is not marked reversible, so the
// rejection keeps the schema at 2 (the column stays) and says why.
func testExpandRejectKept(t *testing.T, pgs *pgServer) {
	db := pgs.database(t)
	r, w, path, digest := migrateRig(t, "mig-kept", db, copyMigrations(t, "kept"), expandThenGoLive)

	id := r.deploy(path, digest, "1.0.0", requester)
	st := r.waitFor(id, "gate go-live waiting", gateWaiting("staging", "go-live"))
	want := "keep the schema at version 2 (002_add_note.up.sql not reversible"
	if c := compensation(t, env(t, st, "staging"), "schema"); !strings.Contains(c.Action, want) {
		t.Errorf("rollback plan of schema says %q, want %q...", c.Action, want)
	}
	r.mustCLI("reject", id, "--as", "bob")
	st = r.waitFor(id, "release finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	c := compensation(t, env(t, st, "staging"), "schema")
	if c.State != workflows.StateKept || !strings.Contains(c.Action, want) || c.Error != "" {
		t.Errorf("compensation of schema: %+v; want kept, saying %q...", c, want)
	}
	if got := db.columns(t, "items"); !slices.Equal(got, []string{"id", "name", "note"}) {
		t.Errorf("items has columns %v after the rollback, want id, name, note kept", got)
	}
	if v, dirty, _ := db.version(t); v != 2 || dirty {
		t.Errorf("schema version %d dirty %t after the rollback, want 2 clean", v, dirty)
	}
	text := r.mustCLI("status", id).stdout
	if !strings.Contains(text, "schema: "+want) || !strings.Contains(text, "[kept]") {
		t.Errorf("runbook status does not show the kept compensation and why:\n%s", text)
	}
	if !hasAuditOutcome(r.auditRecords(id), "compensation.ran", "schema", workflows.StateKept) {
		t.Errorf("audit log has no compensation.ran of schema with outcome kept")
	}
	assertNoDSN(t, r, st, db, w)
}

// testFailingMigration: migration 3 fails; the step waits showing the file
// and the error (and, on Postgres, the statement); a retry with the file
// still broken waits again; after the file is fixed, forcing version 2 (the
// failed file's transaction rolled back) continues and migrates 3.
func testFailingMigration(t *testing.T, db testDB) {
	dir := copyMigrations(t, "failing")
	r, w, path, digest := migrateRig(t, "mig-dirty-"+db.driver, db, dir, expandOnly)

	id := r.deploy(path, digest, "1.0.0", requester)
	schemaStep := func(s workflows.ReleaseStatus) (workflows.StepStatus, bool) {
		e, ok := s.Current()
		if !ok {
			return workflows.StepStatus{}, false
		}
		i := slices.IndexFunc(e.Steps, func(s workflows.StepStatus) bool { return s.Name == "schema" })
		if i < 0 {
			return workflows.StepStatus{}, false
		}
		return e.Steps[i], true
	}
	dirty := func(s workflows.ReleaseStatus) bool {
		st, ok := schemaStep(s)
		return ok && st.State == workflows.StateWaiting
	}
	st := r.waitFor(id, "schema step waits after the failed migration", dirty)
	s := step(t, env(t, st, "staging"), "schema")
	wantStmt := "INSERT INTO items (id, name, nope) VALUES (1, 'first', 'x')"
	for _, want := range []string{"003_add_sku.up.sql", "nope", "dirty at version 3"} {
		if !strings.Contains(s.Error, want) {
			t.Errorf("staging/schema error %q does not say %q", s.Error, want)
		}
	}
	if !strings.Contains(s.Detail, "runbook migrate retry "+id) || !strings.Contains(s.Detail, "runbook migrate force "+id) {
		t.Errorf("staging/schema detail %q does not say how to decide", s.Detail)
	}
	if db.driver == migrate.Postgres {
		if !strings.Contains(s.Error, "003_add_sku.up.sql failed at line 3 ("+wantStmt+")") || !strings.Contains(s.Detail, wantStmt) {
			t.Errorf("staging/schema does not name the line and statement %q: error %q, detail %q", wantStmt, s.Error, s.Detail)
		}
	}
	if text := r.mustCLI("status", id).stdout; !strings.Contains(text, "003_add_sku.up.sql") || !strings.Contains(text, "nope") {
		t.Errorf("runbook status does not show the failed file and error:\n%s", text)
	} else if db.driver == migrate.Postgres && !strings.Contains(text, wantStmt) {
		t.Errorf("runbook status does not show the failed statement %q:\n%s", wantStmt, text)
	}
	// golang-migrate left version 3 dirty; the file's transaction rolled
	// back, so the schema is really at 2.
	if v, d, _ := db.version(t); v != 3 || !d {
		t.Errorf("schema_migrations: version %d dirty %t, want 3 dirty", v, d)
	}
	if got := db.columns(t, "items"); !slices.Equal(got, []string{"id", "name", "note"}) {
		t.Errorf("items has columns %v; the failed migration's transaction should have rolled back to id, name, note", got)
	}
	ms := runCLI(t, withDB(r, db), "", "migrate", "status", path, "--env", "staging")
	if ms.code != 0 || !strings.Contains(ms.stdout, "schema version 3, dirty true") {
		t.Errorf("runbook migrate status of the dirty database: want schema version 3, dirty true; got %s", ms)
	}

	// Retry with the file still broken: the database is dirty, so it waits
	// again, without running anything.
	r.mustCLI("migrate", "retry", id, "--as", "alice")
	r.waitFor(id, "schema step waits again after the retry", func(s workflows.ReleaseStatus) bool {
		st, _ := schemaStep(s)
		return dirty(s) && strings.Contains(st.Error, "an earlier run of 003_add_sku.up.sql failed")
	})
	if n := countAudit(r.auditRecords(id), "schema.dirty"); n != 2 {
		t.Errorf("audit log has %d schema.dirty records, want 2 (the failure and the retry)", n)
	}

	// Fix the file in place, record the version the schema is at, go on.
	if err := os.WriteFile(filepath.Join(dir, "003_add_sku.up.sql"), []byte(fixedSKU), 0o644); err != nil {
		t.Fatal(err)
	}
	r.mustCLI("migrate", "force", id, "--version", "2", "--as", "alice", "--comment", "003 rolled back; file fixed")
	st = r.waitFor(id, "release finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	assertSucceeded(t, st, "staging")
	if s := step(t, env(t, st, "staging"), "schema"); !strings.Contains(s.Detail, "→ 3") {
		t.Errorf("staging/schema detail %q, want it migrated to 3", s.Detail)
	}
	if v, d, _ := db.version(t); v != 3 || d {
		t.Errorf("schema_migrations: version %d dirty %t, want 3 clean", v, d)
	}
	if got := db.columns(t, "items"); !slices.Equal(got, []string{"id", "name", "note", "sku"}) {
		t.Errorf("items has columns %v, want id, name, note, sku", got)
	}
	if n := db.count(t, "SELECT count(*) FROM items"); n != 1 {
		t.Errorf("items has %d rows, want the one row of 003", n)
	}
	recs := r.auditRecords(id)
	for _, action := range []string{workflows.MigrationRetry, workflows.MigrationForce} {
		if !slices.ContainsFunc(recs, func(e map[string]any) bool {
			return e["action"] == "schema.decision" && e["actor"] == "alice" && e["outcome"] == action
		}) {
			t.Errorf("audit log has no schema.decision %s by alice", action)
		}
	}
	if res := r.cli("migrate", "retry", id, "--as", "alice"); res.code == 0 {
		t.Errorf("migrate retry on a finished release succeeded: %s", res)
	}
	if db.driver == migrate.SQLite { // the same commands on both drivers: one capture
		// Captured again at lean-release 4 (each signed decision re-reads the
		// trust roots as it arrives) and 5 (adjacent audit records together);
		// the earlier captures stay.
		r.exportRelease(t, st, "staging", "migration-dirty-retry-force-lean-v6")
	}
	if db.driver == migrate.Postgres {
		assertNoDSN(t, r, st, db, w)
	}
}

func countAudit(recs []map[string]any, action string) int {
	n := 0
	for _, e := range recs {
		if e["action"] == action {
			n++
		}
	}
	return n
}

// testContractRefused: an expand step that would run a DROP COLUMN is
// refused by validate and deploy, naming the file and line; no release
// starts.
func testContractRefused(t *testing.T, pgs *pgServer) {
	db := pgs.database(t)
	dir := copyMigrations(t, "contract")
	r, _, path, digest := migrateRig(t, "mig-refused", db, dir, expandOnly)
	wantFile := filepath.Join(dir, "003_drop_note.up.sql")
	want := []string{wantFile, "003_drop_note.up.sql:2: DROP COLUMN", `step "schema" is an expand phase`}

	res := r.cli("validate", path)
	t.Logf("validate said:\n%s%s", res.stdout, res.stderr)
	if res.code != 1 {
		t.Fatalf("validate: want exit 1, got %s", res)
	}
	for _, w := range want {
		if !strings.Contains(res.stdout+res.stderr, w) {
			t.Errorf("validate does not say %q:\n%s", w, res)
		}
	}
	res = r.cli("deploy", path, "--version", "1.0.0", "--digest", digest, "--as", requester)
	if res.code == 0 {
		t.Fatalf("deploy of a runbook with a contract migration in an expand step succeeded: %s", res)
	}
	for _, w := range want {
		if !strings.Contains(res.stdout+res.stderr, w) {
			t.Errorf("deploy does not say %q:\n%s", w, res)
		}
	}
	id := workflows.ReleaseID(r.service, "1.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := stack.client.DescribeWorkflow(ctx, id, "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("describe %s after a refused deploy: %v; want not found (no workflow started)", id, err)
	}
	if n := db.count(t, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"); n != 0 {
		t.Errorf("the refused release touched the database: %d tables", n)
	}
}

// testContractGated: the expand step stops at 2; the contract step waits at
// its gate, showing why, and drops the column once bob approves. `runbook
// migrate status` shows the version, the dirty flag and the pending
// migrations with their class before, during and after.
func testContractGated(t *testing.T, pgs *pgServer) {
	db := pgs.database(t)
	r, w, path, digest := migrateRig(t, "mig-contract", db, copyMigrations(t, "contract"), expandThenContract)

	ms := runCLI(t, withDB(r, db), "", "migrate", "status", path, "--env", "staging")
	if ms.code != 0 {
		t.Fatalf("migrate status: %s", ms)
	}
	assertMigrateStatus(t, ms.stdout, r.service+" staging: schema version none (empty schema), dirty false", [][]string{
		{"001_create_items.up.sql", "expand", "true"},
		{"002_add_note.up.sql", "expand", "true"},
		{"003_drop_note.up.sql", "contract", "false", "003_drop_note.up.sql:2: DROP COLUMN"},
	})
	if res := r.cli("migrate", "status", path, "--env", "staging"); res.code == 0 || !strings.Contains(res.stderr, "environment variable "+dbVar+" is not set") {
		t.Errorf("migrate status without %s: want a failure naming the variable, got %s", dbVar, res)
	}

	id := r.deploy(path, digest, "1.0.0", requester)
	st := r.waitFor(id, "gate drop-note waiting", gateWaiting("staging", "drop-note"))
	s := step(t, env(t, st, "staging"), "drop-note")
	if g := s.Gate; g == nil || !slices.Equal(g.Approvers, []string{"bob"}) || !strings.Contains(g.Instructions, "003_drop_note.up.sql:2: DROP COLUMN") {
		t.Errorf("gate of drop-note: %+v; want approvers [bob] and the reason 003_drop_note.up.sql:2: DROP COLUMN", s.Gate)
	}
	if text := r.mustCLI("status", id).stdout; !strings.Contains(text, "needs 1 approval(s) from bob") || !strings.Contains(text, "003_drop_note.up.sql:2: DROP COLUMN") {
		t.Errorf("runbook status does not show the contract gate and why:\n%s", text)
	}
	if got := db.columns(t, "items"); !slices.Equal(got, []string{"id", "name", "note"}) {
		t.Errorf("items has columns %v while the contract gate waits, want id, name, note", got)
	}
	ms = runCLI(t, withDB(r, db), "", "migrate", "status", path, "--env", "staging", "-o", "json")
	var js migrate.StatusResult
	if err := json.Unmarshal([]byte(ms.stdout), &js); err != nil || ms.code != 0 {
		t.Fatalf("migrate status -o json: %v\n%s", err, ms)
	}
	if js.Version != 2 || js.Dirty || !js.HasVersion || len(js.Pending) != 1 || js.Pending[0].Class != migrate.Contract || len(js.Applied) != 2 {
		t.Errorf("migrate status -o json while the gate waits: %+v; want version 2, clean, 003 pending as contract", js)
	}
	if res := r.cli("approve", id, "--gate", "drop-note", "--as", "alice"); res.code == 0 {
		t.Errorf("alice approved a gate only bob may approve: %s", res)
	}

	r.mustCLI("approve", id, "--gate", "drop-note", "--as", "bob")
	st = r.waitFor(id, "release finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	assertSucceeded(t, st, "staging")
	if got := db.columns(t, "items"); !slices.Equal(got, []string{"id", "name"}) {
		t.Errorf("items has columns %v after the contract step, want note dropped", got)
	}
	ms = runCLI(t, withDB(r, db), "", "migrate", "status", path, "--env", "staging")
	assertMigrateStatus(t, ms.stdout, r.service+" staging: schema version 3, dirty false", nil)
	assertNoDSN(t, r, st, db, w)
}

// assertMigrateStatus checks the text of `runbook migrate status`: its
// first line, then one row per pending migration (fields in order).
func assertMigrateStatus(t *testing.T, out, head string, pending [][]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if lines[0] != head {
		t.Errorf("migrate status says %q, want %q\n%s", lines[0], head, out)
	}
	if len(lines) != 2+len(pending) || !strings.HasPrefix(lines[1], "PENDING") {
		t.Fatalf("migrate status: want a header and %d pending migrations:\n%s", len(pending), out)
	}
	for i, want := range pending {
		if got := strings.Fields(lines[2+i]); len(got) < len(want) || !slices.Equal(got[:len(want)-1], want[:len(want)-1]) ||
			!strings.Contains(lines[2+i], want[len(want)-1]) {
			t.Errorf("pending migration %d: %q, want %q", i+1, lines[2+i], want)
		}
	}
}

// testConcurrentReleases: two services migrate the same database from the
// same directory at once. The test holds golang-migrate's advisory lock
// until both releases' migrators waited longer than the lock timeout and
// were retried (visible as the activities' attempts), then lets go: both
// releases succeed and every migration ran exactly once.
func testConcurrentReleases(t *testing.T, pgs *pgServer) {
	db := pgs.database(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "migrations", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	lock := holdMigrateLock(t, db)
	type release struct {
		r            *rig
		w            *workerProc
		path, digest string
		id           string
	}
	var rels [2]release
	for i := range rels {
		r, w, path, digest := migrateRig(t, fmt.Sprintf("mig-race%d", i), db, dir, expandOnly)
		rels[i] = release{r: r, w: w, path: path, digest: digest, id: workflows.ReleaseID(r.service, "1.0.0")}
	}
	// Start both releases at once.
	var wg sync.WaitGroup
	results := make([]result, len(rels))
	for i, rel := range rels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runCLIQuiet(rel.r.env, "deploy", rel.path, "--version", "1.0.0", "--digest", rel.digest, "--as", requester)
		}()
	}
	wg.Wait()
	for i, res := range results {
		if res.code != 0 {
			t.Fatalf("deploy of release %d: %s", i, res)
		}
	}

	// Both migrators wait for the lock at once, give up after the lock
	// timeout and are retried.
	eventually(t, "both releases' migrators wait for the lock", func() bool { return lock.waiters(t) == 2 })
	for _, rel := range rels {
		st := rel.r.waitFor(rel.id, "staging started", func(s workflows.ReleaseStatus) bool {
			e, ok := s.Current()
			return ok && e.RunID != ""
		})
		e := env(t, st, "staging")
		waitLockRetried(t, e.WorkflowID, e.RunID)
	}
	lock.release(t)

	for _, rel := range rels {
		st := rel.r.waitFor(rel.id, "release finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
		assertSucceeded(t, st, "staging")
	}
	if v, d, rows := db.version(t); v != 3 || d || rows != 1 {
		t.Errorf("schema_migrations: version %d dirty %t in %d rows, want 3 clean in one row", v, d, rows)
	}
	if n := db.count(t, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ledger'"); n != 1 {
		t.Errorf("%d tables named ledger, want 1", n)
	}
	if n := db.count(t, "SELECT count(*) FROM ledger"); n != 1 {
		t.Errorf("ledger has %d rows: 002_seed_ledger ran %d times, want once", n, n)
	}
	if got := db.columns(t, "ledger"); !slices.Equal(got, []string{"amount", "entry", "id"}) {
		t.Errorf("ledger has columns %v", got)
	}

	// The histories: an attempt > 1 of the migrate activities (the lock),
	// and the migrations applied once across both releases.
	applied := map[uint]int{}
	for _, rel := range rels {
		st := rel.r.status(rel.id)
		e := env(t, st, "staging")
		attempts, ups := migrateActivities(t, e.WorkflowID, e.RunID)
		if slices.Max(attempts) < 2 {
			t.Errorf("release %s: the migrate activities started with attempts %v; want one retried after the lock timeout", rel.id, attempts)
		}
		for _, u := range ups {
			for _, m := range u.Applied {
				applied[m.Version]++
			}
		}
		assertNoDSN(t, rel.r, st, db, rel.w)
	}
	if len(applied) != 3 || applied[1] != 1 || applied[2] != 1 || applied[3] != 1 {
		t.Errorf("migrations applied per version across both releases: %v; want 1, 2 and 3 once each", applied)
	}
}

// migrateLock is golang-migrate's advisory lock on a database, held by the
// test as a third migrator would.
type migrateLock struct {
	conn *pgx.Conn
	id   int64
	db   string
	held bool
}

// holdMigrateLock takes the lock the migrate activities take: the advisory
// lock of golang-migrate's pgx driver on the database's URL path, schema
// and migrations table.
func holdMigrateLock(t *testing.T, db testDB) *migrateLock {
	t.Helper()
	aid, err := database.GenerateAdvisoryLockId("/"+db.name, "public", "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.ParseInt(aid, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return holdAdvisoryLock(t, db, id)
}

// holdAdvisoryLock takes the advisory lock id on the database until the
// lock is released or the test ends.
func holdAdvisoryLock(t *testing.T, db testDB, id int64) *migrateLock {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	l := &migrateLock{conn: conn, id: id, db: db.name}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
		t.Fatal(err)
	}
	l.held = true
	t.Cleanup(func() {
		if l.held {
			l.release(t)
		}
		_ = conn.Close(context.Background())
	})
	return l
}

// waiters counts the migrate sessions waiting for an advisory lock.
func (l *migrateLock) waiters(t *testing.T) int {
	t.Helper()
	var n int
	err := l.conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'runbook-migrate' AND a.datname = $1`, l.db).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (l *migrateLock) release(t *testing.T) {
	t.Helper()
	var ok bool
	if err := l.conn.QueryRow(context.Background(), "SELECT pg_advisory_unlock($1)", l.id).Scan(&ok); err != nil || !ok {
		t.Errorf("unlock: %t, %v", ok, err)
	}
	l.held = false
}

// waitLockRetried polls the environment workflow until its pending migrate
// activity is on attempt 2 or more after failing with MigrationLocked.
func waitLockRetried(t *testing.T, workflowID, runID string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(pollDeadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := stack.client.DescribeWorkflow(ctx, workflowID, runID)
		cancel()
		if err == nil {
			for _, pa := range d.RawResponse.GetPendingActivities() {
				typ := pa.GetLastFailure().GetApplicationFailureInfo().GetType()
				last = fmt.Sprintf("%s attempt %d, last failure %s: %s", pa.GetActivityType().GetName(), pa.GetAttempt(), typ, pa.GetLastFailure().GetMessage())
				if pa.GetAttempt() >= 2 && typ == migrate.ErrLocked {
					t.Logf("%s: %s", workflowID, last)
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no migrate activity retried after MigrationLocked within %s; last pending: %s", workflowID, pollDeadline, last)
		}
		time.Sleep(pollInterval)
	}
}

// migrateActivities reads an environment's history: the attempt each
// migrate activity completed on, and the results of its Up calls.
func migrateActivities(t *testing.T, workflowID, runID string) (attempts []int32, ups []migrate.UpResult) {
	t.Helper()
	h := fetchHistory(t, stack.client, workflowID, runID)
	types := map[int64]string{}
	for _, ev := range h.Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			types[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			if slices.Contains([]string{"Status", "Up"}, types[a.GetScheduledEventId()]) {
				attempts = append(attempts, a.GetAttempt())
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			if types[a.GetScheduledEventId()] == "Up" {
				var u migrate.UpResult
				if err := converter.GetDefaultDataConverter().FromPayloads(a.GetResult(), &u); err != nil {
					t.Fatalf("result of Up: %v", err)
				}
				ups = append(ups, u)
			}
		}
	}
	if len(attempts) == 0 {
		t.Fatalf("history of %s has no migrate activities", workflowID)
	}
	return attempts, ups
}

// assertNoDSN: the connection string's password, and its host and port,
// are in no workflow history of the release (payloads decoded), not in
// `runbook status -o json`, not in the audit log; the password is not in
// the worker's output either. The runbook's reference is in the history,
// so the search looked at the decoded input.
func assertNoDSN(t *testing.T, r *rig, st workflows.ReleaseStatus, db testDB, w *workerProc) {
	t.Helper()
	pw := db.pg.Password
	if i := strings.IndexAny(pw, "/@:%?#"); i > 0 {
		pw = pw[:i] // the part every escaping leaves as it is
	}
	hostport := net.JoinHostPort(db.pg.Host, strconv.Itoa(db.pg.Port))
	runs := [][2]string{{st.ReleaseID, ""}}
	for _, e := range st.Environments {
		runs = append(runs, [2]string{e.WorkflowID, e.RunID})
	}
	for _, run := range runs {
		text := historyText(fetchHistory(t, stack.client, run[0], run[1]))
		if !strings.Contains(text, "env:"+dbVar) {
			t.Errorf("history of %s does not contain the reference env:%s; the search would prove nothing", run[0], dbVar)
		}
		for what, s := range map[string]string{"password": pw, "host:port": hostport} {
			if strings.Contains(text, s) {
				t.Errorf("the database's %s is in the workflow history of %s", what, run[0])
			}
		}
	}
	status := r.mustCLI("status", st.ReleaseID, "-o", "json").stdout
	audit, err := os.ReadFile(r.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), st.ReleaseID) || !strings.Contains(string(audit), `"step.succeeded"`) {
		t.Fatalf("audit log %s has no step records of %s; the search would prove nothing", r.auditLog, st.ReleaseID)
	}
	for where, text := range map[string]string{"runbook status -o json": status, "the audit log": string(audit)} {
		for what, s := range map[string]string{"password": pw, "host:port": hostport} {
			if strings.Contains(text, s) {
				t.Errorf("the database's %s is in %s", what, where)
			}
		}
	}
	w.stop() // flushes its output
	logb, err := os.ReadFile(w.log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logb), "worker running") {
		t.Fatalf("worker log %s does not hold the worker's output", w.log)
	}
	if strings.Contains(string(logb), pw) {
		t.Errorf("the database's password is in the worker's output")
	}
}
