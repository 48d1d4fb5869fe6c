package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	pgxmig "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	sqlitemig "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/file"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often Up and Down heartbeat while one long
// migration runs (an index build), well inside any heartbeat timeout.
const heartbeatEvery = 5 * time.Second

// errNothingToDo: under the lock, the database was at the target already
// (another migrator got there first).
var errNothingToDo = errors.New("nothing to do")

// session is one activity call's golang-migrate instance and what it saw.
type session struct {
	ctx     context.Context
	a       *Activities
	c       *conn
	dir     string
	entries []entry
	m       *migrate.Migrate
	g       *guard
	phase   string // up, down, force, status

	beatMu   sync.Mutex
	mu       sync.Mutex
	progress Progress
	running  *entry // between the migration's dirty and clean SetVersion
	file     string // running's file in this direction
	dirtyAt  int    // the version recorded as dirty while running runs
	applied  []Migration
	from     *int // the version read under the lock
	last     *int // the version of the last clean SetVersion
}

func (a *Activities) lockTimeout() time.Duration {
	if a == nil || a.LockTimeout <= 0 {
		return DefaultLockTimeout
	}
	return a.LockTimeout
}

// open resolves t, reads its migrations and connects.
func (a *Activities) open(ctx context.Context, t Target, phase string) (*session, error) {
	wait := a.lockTimeout()
	c, err := resolve(t, wait)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(t.Migrations) {
		return nil, invalid("Target.Migrations must be an absolute directory, not %q", t.Migrations)
	}
	entries, err := readDir(t.Migrations)
	if err != nil {
		return nil, invalid("migrations %s: %v", t.Migrations, err)
	}
	src, err := (&file.File{}).Open((&url.URL{Scheme: "file", Path: t.Migrations}).String())
	if err != nil {
		return nil, invalid("migrations %s: %v", t.Migrations, err)
	}
	drv, err := c.open()
	if err != nil {
		_ = src.Close()
		return nil, c.fail(ctx, "connect to", err)
	}
	s := &session{ctx: ctx, a: a, c: c, dir: t.Migrations, entries: entries, phase: phase, progress: Progress{Phase: phase}}
	s.g = &guard{Driver: drv, s: s}
	if c.driver == SQLite {
		s.g.lockPath, s.g.wait = c.path+".migrate-lock", wait
	}
	s.m, _ = migrate.NewWithInstance("file", src, c.driver, s.g) // cannot fail
	// golang-migrate gives up waiting after LockTimeout but leaves the
	// driver's Lock running; a little longer than the driver's own bound
	// lets the driver fail cleanly first.
	s.m.LockTimeout = wait + 5*time.Second
	return s, nil
}

func (s *session) close() {
	_, _ = s.m.Close()
	// Only set if golang-migrate gave up on a Lock that then succeeded.
	s.g.mu.Lock()
	if s.g.file != nil {
		unlockFile(s.g.file)
		s.g.file = nil
	}
	s.g.mu.Unlock()
}

// open connects with golang-migrate's driver. Postgres goes through
// WithInstance with DatabaseName set to the URL path, exactly as the
// driver's URL Open does, so the advisory lock id matches that of the
// migrate CLI on the same URL (WithInstance without it would use
// current_database(), another id: two migrators would not exclude each
// other). Opening the *sql.DB ourselves also lets us close the connection
// the driver leaks when its first lock attempt times out.
func (c *conn) open() (database.Driver, error) {
	if c.driver == SQLite {
		db, err := sql.Open("sqlite", c.dsn)
		if err != nil {
			return nil, err
		}
		d, err := sqlitemig.WithInstance(db, &sqlitemig.Config{MigrationsTable: c.table, DatabaseName: c.path})
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		return d, nil
	}
	cfg, err := pgx.ParseConfig(c.dsn)
	if err != nil {
		return nil, err
	}
	tc := &trackingConnector{Connector: stdlib.GetConnector(*cfg)}
	db := sql.OpenDB(tc)
	d, err := pgxmig.WithInstance(db, &pgxmig.Config{MigrationsTable: c.table, DatabaseName: c.path})
	if err != nil {
		tc.closeAll()
		_ = db.Close()
		return nil, err
	}
	return d, nil
}

// trackingConnector remembers its connections, so a failed WithInstance,
// which keeps a *sql.Conn it never returns, does not leak a session.
type trackingConnector struct {
	driver.Connector
	mu    sync.Mutex
	conns []driver.Conn
}

func (t *trackingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := t.Connector.Connect(ctx)
	if err == nil {
		t.mu.Lock()
		t.conns = append(t.conns, c)
		t.mu.Unlock()
	}
	return c, err
}

func (t *trackingConnector) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		_ = c.Close()
	}
}

// run runs one golang-migrate operation with heartbeats, stopping between
// migrations when the activity is cancelled (the running one finishes:
// a cancel never leaves the database dirty), and turns its error into ours.
func (s *session) run(fn func() error) error {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-s.ctx.Done():
				s.m.GracefulStop <- true
				return
			case <-t.C:
				s.beat()
			}
		}
	}()
	s.beat()
	err := fn()
	close(done)
	<-stopped
	if causes(err, func(e error) bool { return e == migrate.ErrNoChange || e == errNothingToDo }) {
		err = nil
	}
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	switch {
	case err != nil && running != nil:
		return s.dirtyError(err)
	case err != nil:
		return s.c.fail(s.ctx, s.phase, err)
	}
	return s.ctx.Err()
}

func (s *session) snapshot() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}

// beat records the progress as the heartbeat; outside an activity (the
// CLI, plain tests) there is none. The ticker and golang-migrate both beat:
// one at a time, each with the progress as it is then, so heartbeats never
// go back and an observer needs no lock.
func (s *session) beat() {
	s.beatMu.Lock()
	defer s.beatMu.Unlock()
	p := s.snapshot()
	if activity.IsActivity(s.ctx) {
		activity.RecordHeartbeat(s.ctx, p)
	}
	if s.a != nil && s.a.observe != nil {
		s.a.observe(p)
	}
}

// started: golang-migrate recorded target as dirty and runs its migration.
func (s *session) started(target int) {
	e := s.migrationTo(target)
	s.mu.Lock()
	s.running, s.dirtyAt, s.file = e, target, e.File
	if s.phase == "down" {
		s.file = e.down
	}
	s.progress.Current = s.file
	s.mu.Unlock()
	s.beat()
}

// finished: golang-migrate recorded target as clean.
func (s *session) finished(target int) {
	s.mu.Lock()
	if s.running != nil {
		s.applied = append(s.applied, s.running.Migration)
		s.progress.Done++
	}
	s.running, s.progress.Current, s.last = nil, "", &target
	s.mu.Unlock()
	s.beat()
}

// migrationTo is the migration that moves the database to target: the up
// migration of target, or the down migration of the next version above it.
func (s *session) migrationTo(target int) *entry {
	for i := range s.entries {
		e := &s.entries[i]
		if s.phase == "down" && int(e.Version) > target || s.phase != "down" && int(e.Version) == target {
			return e
		}
	}
	return &entry{Migration: Migration{Version: uint(max(target, 0))}}
}

// guard wraps golang-migrate's driver to act where only the driver can:
// under the lock (check the plan against the version read there, since
// another migrator may have moved it), around each migration (progress,
// and which one failed), and for SQLite to hold the cross-process lock.
type guard struct {
	database.Driver
	s        *session
	lockPath string // SQLite: the lock file; "" for Postgres
	wait     time.Duration
	// check runs on the first Version read under each lock; an error stops
	// golang-migrate before it applies anything.
	check func(version int, dirty bool) error

	mu      sync.Mutex
	file    *os.File
	locked  bool
	checked bool
}

func (g *guard) Lock() error {
	var f *os.File
	if g.lockPath != "" {
		var err error
		if f, err = lockFile(g.s.ctx, g.lockPath, g.wait); err != nil {
			return err
		}
	}
	if err := g.Driver.Lock(); err != nil {
		if f != nil {
			unlockFile(f)
		}
		return err
	}
	g.mu.Lock()
	g.file, g.locked, g.checked = f, true, false
	g.mu.Unlock()
	return nil
}

func (g *guard) Unlock() error {
	err := g.Driver.Unlock()
	g.mu.Lock()
	f := g.file
	g.file, g.locked = nil, false
	g.mu.Unlock()
	if f != nil {
		unlockFile(f)
	}
	return err
}

func (g *guard) Version() (int, bool, error) {
	v, dirty, err := g.Driver.Version()
	if err != nil {
		return v, dirty, err
	}
	g.mu.Lock()
	first := g.locked && !g.checked && g.check != nil
	g.checked = g.checked || first
	g.mu.Unlock()
	if first {
		g.s.mu.Lock()
		g.s.from = &v
		g.s.mu.Unlock()
		if err := g.check(v, dirty); err != nil {
			return v, dirty, err
		}
	}
	return v, dirty, nil
}

func (g *guard) SetVersion(v int, dirty bool) error {
	if err := g.Driver.SetVersion(v, dirty); err != nil {
		return err
	}
	if dirty {
		g.s.started(v)
	} else {
		g.s.finished(v)
	}
	return nil
}
