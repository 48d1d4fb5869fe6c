package migrate

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pgxmig "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"go.temporal.io/sdk/temporal"
)

// writeSlowMigrations writes n migrations that each log their version in
// applied_log and take a while, so two migrators overlap.
func writeSlowMigrations(t *testing.T, d db, n int) {
	slow := "SELECT pg_sleep(0.15);"
	if d.driver == SQLite {
		slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT count(*) FROM c;"
	}
	for v := 1; v <= n; v++ {
		sql := fmt.Sprintf("-- runbook: expand\nINSERT INTO applied_log (version) VALUES (%d);\n%s\n", v, slow)
		if v == 1 {
			sql = "CREATE TABLE applied_log (version INTEGER NOT NULL);\n" + sql
		}
		writeFile(t, filepath.Join(d.target.Migrations, fmt.Sprintf("%03d_step.up.sql", v)), sql)
	}
}

// TestConcurrentMigrators: two workers run Up on one database at once. Both
// succeed (one after waiting, or after ErrLocked and a retry, as Temporal
// would retry it) and every migration runs exactly once.
func TestConcurrentMigrators(t *testing.T) {
	eachDriver(t, "", func(t *testing.T, d db) {
		const n = 5
		writeSlowMigrations(t, d, n)
		var locked atomic.Int32
		results := make([]UpResult, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				// Each its own worker: one waits for the lock as long as
				// the default allows, the other gives up soon and retries.
				a := &Activities{}
				if i == 1 {
					a.LockTimeout = 300 * time.Millisecond
				}
				<-start
				for attempt := 1; ; attempt++ {
					results[i], errs[i] = a.Up(t.Context(), UpInput{Target: d.target})
					var ae *temporal.ApplicationError
					if !errors.As(errs[i], &ae) || ae.Type() != ErrLocked || attempt == 100 {
						return
					}
					locked.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			})
		}
		close(start)
		wg.Wait()
		var all []uint
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("migrator %d: %v", i, errs[i])
			}
			if results[i].To != n {
				t.Errorf("migrator %d ended at %d", i, results[i].To)
			}
			all = append(all, versions(results[i].Applied)...)
		}
		slices.Sort(all)
		if !reflect.DeepEqual(all, []uint{1, 2, 3, 4, 5}) {
			t.Errorf("applied by the two: %v, want each version once", all)
		}
		rows, err := d.open(t).QueryContext(t.Context(), "SELECT version FROM applied_log ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		var logged []uint
		for rows.Next() {
			var v uint
			_ = rows.Scan(&v)
			logged = append(logged, v)
		}
		if !reflect.DeepEqual(logged, []uint{1, 2, 3, 4, 5}) {
			t.Errorf("applied_log = %v, want each version once", logged)
		}
		t.Logf("ErrLocked retries: %d", locked.Load())
	})
}

// TestHeldLockPostgres holds the lock with golang-migrate's own driver opened
// from the URL, as the migrate CLI does: the activity must contend on the
// same advisory lock id, give up after the lock timeout with the retryable
// ErrLocked instead of hanging, and leave no session behind.
func TestHeldLockPostgres(t *testing.T) {
	t.Parallel()
	d := newDB(t, Postgres, "app")
	holder, err := (&pgxmig.Postgres{}).Open(strings.Replace(d.dsn, "postgres://", "pgx5://", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Close() }()
	if err := holder.Lock(); err != nil {
		t.Fatal(err)
	}
	a := &Activities{LockTimeout: 500 * time.Millisecond}
	started := time.Now()
	_, err = a.Up(t.Context(), UpInput{Target: d.target, To: 1})
	elapsed := time.Since(started)
	ae := appErr(t, err, ErrLocked, false)
	if !strings.Contains(ae.Message(), "another migrator holds the lock on file:") {
		t.Errorf("message = %s", ae.Message())
	}
	if elapsed < 500*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("gave up after %s, want about the 500ms lock timeout", elapsed)
	}
	for range 3 { // as Temporal would retry it
		_, err = a.Status(t.Context(), StatusInput{d.target})
		appErr(t, err, ErrLocked, false)
	}
	waitNoSessions(t, d)

	if err := holder.Unlock(); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Up(t.Context(), UpInput{Target: d.target, To: 1}); err != nil || res.To != 1 {
		t.Errorf("up after the lock was released = %+v, %v", res, err)
	}
}

// waitNoSessions waits until the activity's connections are gone: a failed
// open must not leak one per retry.
func waitNoSessions(t *testing.T, d db) {
	t.Helper()
	conn := d.open(t)
	deadline := time.Now().Add(time.Second) // the server notices a closed session at once
	for {
		var n int
		err := conn.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'runbook-migrate' AND datname = current_database()").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runbook-migrate sessions left open", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHeldLockSQLite: another process holding the lock file makes Up give up
// with ErrLocked after the lock timeout.
func TestHeldLockSQLite(t *testing.T) {
	t.Parallel()
	d := newDB(t, SQLite, "app")
	f, err := lockFile(t.Context(), strings.TrimPrefix(d.dsn, "sqlite://")+".migrate-lock", 0)
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{LockTimeout: 500 * time.Millisecond}
	started := time.Now()
	_, err = a.Up(t.Context(), UpInput{Target: d.target, To: 1})
	appErr(t, err, ErrLocked, false)
	if elapsed := time.Since(started); elapsed > 3*time.Second {
		t.Errorf("gave up after %s", elapsed)
	}
	if st, err := a.Status(t.Context(), StatusInput{d.target}); err != nil || st.HasVersion {
		t.Errorf("status = %+v, %v", st, err)
	}
	unlockFile(f)
	if res, err := a.Up(t.Context(), UpInput{Target: d.target, To: 1}); err != nil || res.To != 1 {
		t.Errorf("up after the lock was released = %+v, %v", res, err)
	}
}
