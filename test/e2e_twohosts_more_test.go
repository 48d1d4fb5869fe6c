package test

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/migrate"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

// seedNote is appended to blocking/002_add_note.up.sql: a row, so a
// migration applied twice shows (its primary key would refuse the second).
const seedNote = "INSERT INTO items (id, name, note) VALUES (1, 'first', 'x');\n"

// killDuringMigration kills the worker whose migration 002 waits for a lock
// the test holds, then lets the lock go. The dead worker's database session
// outlives it and completes 002, but golang-migrate's "clean" mark never
// comes: the database is dirty at 2. The other worker's attempt refuses to
// guess and holds the step for a person; the person reads the schema, forces
// the version it is at, and the release finishes with 002 applied once.
func killDuringMigration(t *testing.T, p *pg.Server) {
	r := twoHostRig(t, p, "two-migrate")
	dsn := newDatabase(t, p, "app")
	db := testDB{driver: migrate.Postgres, dsn: dsn, name: dbName(t, dsn), pg: p}
	dir := copyMigrations(t, "blocking")
	f, err := os.OpenFile(filepath.Join(dir, "002_add_note.up.sql"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(seedNote)
		_ = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	lock := holdAdvisoryLock(t, db, 7411) // the lock of blocking/002_add_note.up.sql
	r.env = withoutVar(r.env, dbVar)      // only the workers hold the connection string
	hosts := twoHosts(r, dbVar+"="+dsn)
	path, digest := r.writeRunbook("runbook.yaml", migrateRunbook, map[string]any{
		"Driver": db.driver, "Migrations": dir, "Steps": expandOnly,
	})

	id := r.deploy(path, digest, "1.0.0", requester)
	eventually(t, "migration 002 running", func() bool { return lock.waiters(t) == 1 })
	killed, alive := killHolder(t, hosts, workflows.EnvironmentID(r.service, "staging"), "Up")
	lock.release(t)

	st := r.waitForWithin(id, "the schema step finished or held for a person", failoverDeadline, func(s workflows.ReleaseStatus) bool {
		e, ok := s.Current()
		return s.Finished() || ok && slices.ContainsFunc(e.Steps, func(st workflows.StepStatus) bool {
			return st.Name == "schema" && st.State == workflows.StateWaiting
		})
	})
	if !st.Finished() {
		// What a person does: look at the schema, record where it is.
		at := "1"
		if slices.Contains(db.columns(t, "items"), "note") {
			at = "2"
		}
		t.Logf("dirty after the kill; the schema is at %s", at)
		r.mustCLI("migrate", "force", id, "--version", at, "--as", "alice", "--comment", "the killed worker's session ended the migration")
	}
	st = r.waitFinished(id)
	assertSucceeded(t, st, "staging")
	if v, dirty, rows := db.version(t); v != 2 || dirty || rows != 1 {
		t.Errorf("schema_migrations: version %d dirty %t (%d rows), want 2 clean", v, dirty, rows)
	}
	if n := db.count(t, "SELECT count(*) FROM items"); n != 1 {
		t.Errorf("items has %d rows, want the one row of 002: applied once", n)
	}
	auditOnce(t, r, id, "schema")
	t.Logf("killed %s, finished on %s", killed.name, alive.name)
}

// dbName is the database of a connection URL.
func dbName(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// killDuringBake kills the worker whose canary analysis bakes a weight; the
// other resumes the bake from its heartbeat and the canary ends with every
// weight set once, in order.
func killDuringBake(t *testing.T, p *pg.Server) {
	r := twoHostRig(t, p, "two-bake")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{20, 50, 100}, bake: 8 * time.Second})
	s.startLoad(t)
	if st := s.release("1.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("first install: %s (%s)", st.State, st.Reason)
	}
	// The rig's first worker is host-a (the state directory the clean-up
	// destroys from); host-b joins it.
	a := &host{name: "host-a", dir: filepath.Join(r.dir, "state"), w: s.worker}
	b := &host{name: "host-b", dir: filepath.Join(r.dir, "host-b")}
	b.w = r.startWorker(append(slices.Clone(s.workerEnv), "RUNBOOK_STATE_DIR="+b.dir, "RUNBOOK_HOST_QUEUE="+r.queue+"@host-b")...)
	hosts := []*host{a, b}

	seen := s.watchWeight("blue")
	id := r.deploy(s.path, s.digest, "2.0.0", requester)
	r.waitForWithin(id, "canary 2.0.0 baking at weight 50", failoverDeadline, func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 2
	})
	killed, alive := killHolder(t, hosts, workflows.EnvironmentID(r.service, "production"), "Bake")
	st := r.waitFinished(id)
	if st.State != workflows.StateSucceeded {
		t.Fatalf("canary after a worker was killed: %s (%s)", st.State, st.Reason)
	}
	checkBlueRose(t, s.weights(), seen())
	auditOnce(t, r, id, "provision", "preview", "canary")
	t.Logf("killed %s, finished on %s", killed.name, alive.name)
}
