package migrate

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/runbookhq/runbook/internal/secretref"
)

// Driver names.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// defaultTable is golang-migrate's own default, kept so a database migrated
// with the migrate CLI before carries on where it was.
const defaultTable = "schema_migrations"

// conn is a resolved Target: what to open, and how to name it in messages.
type conn struct {
	driver  string
	dsn     string // postgres: URL for pgx; sqlite: modernc DSN. Secret.
	path    string // sqlite: the database file; postgres: the URL path ("/db")
	table   string // the migrations table
	display string // for messages (they reach history): the reference and database name
	logName string // for worker logs: host and database, no password, no query
	redact  redactor
}

// resolve reads the connection string behind t.URL and prepares it for the
// driver. Every error is ErrInvalid and names the reference, never the value.
func resolve(t Target, lockTimeout time.Duration) (*conn, error) {
	dsn, err := readReference(t.URL)
	if err != nil {
		return nil, err
	}
	driver, rest, err := driverOf(dsn, t.Driver, t.URL)
	if err != nil {
		return nil, err
	}
	if driver == Postgres {
		return postgresConn(dsn, t.URL, lockTimeout)
	}
	return sqliteConn(rest, t.URL, lockTimeout)
}

// readReference returns the connection string behind ref: env:NAME or
// file:PATH (its first line).
func readReference(ref string) (string, error) {
	kind, name, _ := strings.Cut(ref, ":")
	var dsn string
	switch kind {
	case "env":
		v, ok, err := secretref.Lookup(name)
		if err != nil {
			return "", invalid("database URL: %v", err)
		}
		if !ok || strings.TrimSpace(v) == "" {
			return "", invalid("the environment variable %s is not set on this worker; set it to the database's connection string (%s)", name, ref)
		}
		dsn = v
	case "file":
		b, err := os.ReadFile(name)
		if err != nil {
			return "", invalid("read the connection string (%s): %v", ref, err)
		}
		dsn, _, _ = strings.Cut(string(b), "\n")
	default:
		return "", invalid("Target.URL must be a reference, env:NAME or file:PATH (the value is not shown: it may be a connection string)")
	}
	dsn = strings.TrimSpace(dsn)
	if dsn == "" || strings.ContainsFunc(dsn, unicode.IsControl) {
		return "", invalid("%s does not hold a connection string on its first line", ref)
	}
	return dsn, nil
}

// driverOf tells the driver from the scheme (or checks the one given) and
// returns what follows the scheme.
func driverOf(dsn, want, ref string) (driver, rest string, err error) {
	scheme, rest, found := strings.Cut(dsn, "://")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "pgx5", "pgx":
		driver = Postgres
	case "sqlite", "sqlite3":
		driver = SQLite
	default:
		if found {
			return "", "", invalid("the connection string in %s has the scheme %q; use postgres:// or sqlite:// (or a file path for SQLite)", ref, scheme)
		}
		if strings.Contains(dsn, "=") && strings.Contains(dsn, " ") {
			return "", "", invalid("the connection string in %s looks like a key=value Postgres string; write it as a postgres:// URL", ref)
		}
		driver, rest = SQLite, dsn
	}
	switch want {
	case "", driver:
		return driver, rest, nil
	case Postgres, SQLite:
		return "", "", invalid("Target.Driver is %s but the connection string in %s is for %s", want, ref, driver)
	}
	return "", "", invalid("unknown driver %q; use postgres or sqlite", want)
}

// postgresConn sets the session's lock_timeout, which bounds the wait for
// golang-migrate's advisory lock (pg_advisory_lock waits forever otherwise)
// and for table locks in migrations, plus a connect timeout, since the
// driver connects without a deadline. statement_timeout is left alone: a
// long index build is legitimate.
func postgresConn(dsn, ref string, lockTimeout time.Duration) (*conn, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// The parse error quotes the URL, password included: not shown.
		return nil, invalid("the connection string in %s is not a valid URL", ref)
	}
	c := &conn{driver: Postgres, path: u.Path, table: defaultTable, redact: newRedactor(dsn, u)}
	q := u.Query()
	for k := range q {
		switch {
		case k == "x-migrations-table":
			c.table = q.Get(k)
			q.Del(k)
		case strings.HasPrefix(k, "x-"):
			return nil, invalid("the connection string in %s has the golang-migrate option %s, which the migrate step does not support; remove it", ref, k)
		}
	}
	q.Set("lock_timeout", strconv.FormatInt(lockTimeout.Milliseconds(), 10))
	setDefault(q, "connect_timeout", "10")
	setDefault(q, "application_name", "runbook-migrate")
	u.Scheme, u.RawQuery = "postgres", q.Encode()
	c.dsn = u.String()
	// Messages name the reference and the database, not the host: they
	// travel into workflow history, status and the audit log. The worker's
	// own log may say where it connected.
	c.display = fmt.Sprintf("%s (database %s)", ref, strings.TrimPrefix(u.Path, "/"))
	shown := url.URL{Scheme: "postgres", Host: u.Host, Path: u.Path}
	if u.User != nil {
		shown.User = url.User(u.User.Username())
	}
	c.logName = shown.String()
	return c, nil
}

// sqliteConn sets busy_timeout, so a migrator waits for the application's
// writes instead of failing with "database is locked", and BEGIN IMMEDIATE,
// so the wait happens when a migration's transaction starts (SQLite does
// not wait when a deferred transaction has to upgrade to a writer).
func sqliteConn(rest, ref string, lockTimeout time.Duration) (*conn, error) {
	path, rawQuery, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, invalid("the SQLite connection string in %s has no file path", ref)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, invalid("the SQLite connection string in %s has a malformed query: %v", ref, err)
	}
	c := &conn{driver: SQLite, path: path, table: defaultTable, display: fmt.Sprintf("%s (%s)", ref, filepath.Base(path)), logName: path}
	for k := range q {
		switch {
		case k == "x-migrations-table":
			c.table = q.Get(k)
			q.Del(k)
		case strings.HasPrefix(k, "x-"):
			return nil, invalid("the connection string in %s has the golang-migrate option %s, which the migrate step does not support; remove it", ref, k)
		}
	}
	q.Del("_busy_timeout")
	q.Del("_timeout")
	q["_pragma"] = slices.DeleteFunc(q["_pragma"], func(p string) bool {
		return strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), "busy_timeout")
	})
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", lockTimeout.Milliseconds()))
	q.Set("_txlock", "immediate")
	c.dsn = path + "?" + q.Encode()
	return c, nil
}

func setDefault(q url.Values, k, v string) {
	if q.Get(k) == "" {
		q.Set(k, v)
	}
}

// redactor removes a connection string's secrets from text, in every
// spelling a driver or a URL printer might use.
type redactor struct{ secrets []string }

func newRedactor(dsn string, u *url.URL) redactor {
	var raw []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			raw = append(raw, pw)
		}
	}
	q := u.Query()
	raw = append(raw, q["password"]...)
	raw = append(raw, q["sslpassword"]...)
	r := redactor{secrets: []string{dsn}}
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		authority := rest
		if end := strings.IndexAny(rest, "/?#"); end >= 0 {
			authority = rest[:end]
		}
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(authority[:at], ":"); ok {
				raw = append(raw, pw) // as written, escaped or not
			}
		}
	}
	for _, s := range raw {
		if s == "" {
			continue
		}
		r.secrets = append(r.secrets, s, url.QueryEscape(s), url.PathEscape(s),
			strings.TrimPrefix(url.UserPassword("", s).String(), ":"))
	}
	// Longest first, so a secret's escaped form is not half-replaced by a
	// shorter one inside it.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	r.secrets = slices.Compact(r.secrets)
	return r
}

// String returns s with every secret replaced by xxxxx.
func (r redactor) String(s string) string {
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}
