package migrate

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/secretref"
)

// TestMissingEnvVariable names the variable, and the target works once it
// is set.
func TestMissingEnvVariable(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "MIGRATE_TEST_*")
	d := newDB(t, SQLite, "app")
	dsn := d.dsn
	tgt := Target{URL: "env:MIGRATE_TEST_DB", Migrations: d.target.Migrations}
	_, err := (&Activities{}).Status(t.Context(), StatusInput{tgt})
	ae := appErr(t, err, ErrInvalid, true)
	if !strings.Contains(ae.Message(), "the environment variable MIGRATE_TEST_DB is not set on this worker") {
		t.Errorf("message = %s", ae.Message())
	}
	t.Setenv("MIGRATE_TEST_DB", dsn)
	if st, err := (&Activities{}).Status(t.Context(), StatusInput{tgt}); err != nil || len(st.Pending) != 3 {
		t.Errorf("status = %+v, %v", st, err)
	}
}

func TestTargetInvalid(t *testing.T) {
	t.Parallel()
	dir, _ := filepath.Abs("testdata/app")
	ref := func(dsn string) string { return fileRef(t, dsn) }
	for name, tc := range map[string]struct {
		target Target
		want   string
	}{
		"not a reference":  {Target{URL: "postgres://u:hunter2@h/db", Migrations: dir}, "must be a reference, env:NAME or file:PATH"},
		"missing file":     {Target{URL: "file:/nonexistent/dsn", Migrations: dir}, "read the connection string (file:/nonexistent/dsn)"},
		"empty file":       {Target{URL: ref(""), Migrations: dir}, "does not hold a connection string"},
		"unknown scheme":   {Target{URL: ref("mysql://u:hunter2@h/db"), Migrations: dir}, `has the scheme "mysql"`},
		"unknown driver":   {Target{URL: ref("sqlite:///x.db"), Driver: "oracle", Migrations: dir}, `unknown driver "oracle"`},
		"driver mismatch":  {Target{URL: ref("sqlite:///x.db"), Driver: Postgres, Migrations: dir}, "Target.Driver is postgres but the connection string"},
		"key=value string": {Target{URL: ref("host=h password=hunter2"), Migrations: dir}, "looks like a key=value Postgres string"},
		"x- option":        {Target{URL: ref("postgres://u:hunter2@h/db?x-multi-statement=true"), Migrations: dir}, "x-multi-statement"},
		"relative dir":     {Target{URL: ref("sqlite:///x.db"), Migrations: "testdata/app"}, "must be an absolute directory"},
		"missing dir":      {Target{URL: ref("sqlite:///x.db"), Migrations: "/nonexistent/migrations"}, "read the migrations directory"},
		"bad migrations":   {Target{URL: ref("sqlite:///x.db"), Migrations: mustAbs("testdata/bad/misnamed")}, "001-x.up.sql: not named"},
	} {
		_, err := (&Activities{}).Up(t.Context(), UpInput{Target: tc.target})
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || ae.Type() != ErrInvalid || !ae.NonRetryable() || !strings.Contains(ae.Message(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalid with %q", name, err, tc.want)
			continue
		}
		if strings.Contains(ae.Message(), "hunter2") {
			t.Errorf("%s: message shows the password: %s", name, ae.Message())
		}
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

func TestResolveDSN(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]struct{ driver, display, dsn string }{
		"postgresql://app:pw@db:5432/app?sslmode=require&x-migrations-table=mig&lock_timeout=0": {
			Postgres, "postgres://app@db:5432/app",
			"postgres://app:pw@db:5432/app?application_name=runbook-migrate&connect_timeout=10&lock_timeout=2000&sslmode=require"},
		"pgx5://db/app": {Postgres, "postgres://db/app", "postgres://db/app?application_name=runbook-migrate&connect_timeout=10&lock_timeout=2000"},
		"sqlite:///var/lib/app.db?_pragma=busy_timeout(1)&_pragma=journal_mode(WAL)": {
			SQLite, "/var/lib/app.db", "/var/lib/app.db?_pragma=journal_mode%28WAL%29&_pragma=busy_timeout%282000%29&_txlock=immediate"},
		"./app.db": {SQLite, "./app.db", "./app.db?_pragma=busy_timeout%282000%29&_txlock=immediate"},
	} {
		p := filepath.Join(t.TempDir(), "dsn")
		if err := os.WriteFile(p, []byte(dsn+"\r\nsecond line ignored\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := resolve(Target{URL: "file:" + p}, 2*time.Second)
		if err != nil {
			t.Errorf("%s: %v", dsn, err)
			continue
		}
		if c.driver != want.driver || c.logName != want.display || c.dsn != want.dsn {
			t.Errorf("%s:\n got %s %s %s\nwant %s %s %s", dsn, c.driver, c.logName, c.dsn, want.driver, want.display, want.dsn)
		}
		if !strings.HasPrefix(c.display, "file:"+p+" (") || strings.Contains(c.display, "db:5432") {
			t.Errorf("%s: message name %q must be the reference, never the host", dsn, c.display)
		}
		if strings.HasPrefix(dsn, "postgresql") && c.table != "mig" {
			t.Errorf("%s: table %q", dsn, c.table)
		}
	}
	// The display of a URL with a password never has it.
	c, err := resolve(Target{URL: fileRef(t, "postgres://u:"+url.QueryEscape("p@ss")+"@h/db")}, time.Second)
	if err != nil || strings.Contains(c.display, "p%40ss") || strings.Contains(c.display, "p@ss") {
		t.Errorf("display = %q, %v", c.display, err)
	}
}
