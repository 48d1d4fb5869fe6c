package migrate

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/runbookhq/runbook/internal/testenv/pg"
	"go.temporal.io/sdk/temporal"
)

// One PostgreSQL server for the package; each test gets its own database.
func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// db is a database under test: the connection string (password included,
// for the test's own queries) and the Target that refers to it.
type db struct {
	driver string
	dsn    string
	target Target
}

// eachDriver runs fn against a fresh Postgres database and a fresh SQLite
// file, with the migrations copied from testdata/<fixture> so a test may
// edit them.
func eachDriver(t *testing.T, fixture string, fn func(t *testing.T, d db)) {
	for _, driver := range []string{Postgres, SQLite} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			fn(t, newDB(t, driver, fixture))
		})
	}
}

func newDB(t *testing.T, driver, fixture string) db {
	t.Helper()
	var dsn string
	if driver == Postgres {
		dsn = pg.NewDatabase(t)
	} else {
		dsn = "sqlite://" + filepath.Join(t.TempDir(), "app.db")
	}
	dir := t.TempDir()
	if fixture != "" {
		copyDir(t, filepath.Join("testdata", fixture), dir)
	}
	return db{driver: driver, dsn: dsn, target: Target{URL: fileRef(t, dsn), Migrations: dir}}
}

// fileRef writes dsn to a file and returns the file: reference to it.
func fileRef(t *testing.T, dsn string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(p, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + p
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, de.Name()), string(b))
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// open connects the test itself to the database, outside the activities.
func (d db) open(t *testing.T) *sql.DB {
	t.Helper()
	name, dsn := "pgx", d.dsn
	if d.driver == SQLite {
		name, dsn = "sqlite", strings.TrimPrefix(d.dsn, "sqlite://")
	}
	conn, err := sql.Open(name, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// columns lists the columns of table, empty when it does not exist.
func (d db) columns(t *testing.T, table string) []string {
	t.Helper()
	q := "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position"
	if d.driver == SQLite {
		q = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
	}
	rows, err := d.open(t).QueryContext(context.Background(), q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}

// appErr asserts err is an ApplicationError of typ with the given retryability.
func appErr(t *testing.T, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an ApplicationError %s", err, typ)
	}
	if ae.Type() != typ || ae.NonRetryable() != nonRetryable {
		t.Fatalf("err type %q non-retryable %v, want %q %v (%v)", ae.Type(), ae.NonRetryable(), typ, nonRetryable, err)
	}
	return ae
}

func versions(ms []Migration) []uint {
	out := []uint{}
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}
