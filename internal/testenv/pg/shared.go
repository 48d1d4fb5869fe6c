package pg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The server shared by one test binary, set by Main.
var (
	shared    *Server
	errShared = errors.New("pg.Main was not called from TestMain")
	dbSeq     atomic.Int64
)

// Main starts the shared server, runs the tests and stops it; call it as
// os.Exit(pg.Main(m)) from TestMain. A server that cannot start does not
// stop the package's other tests: the tests that need it skip or fail.
func Main(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	shared, errShared = Start(ctx)
	cancel()
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pg:", err)
		}
	}
	return code
}

// Shared returns the server started by Main. Without the binaries it skips
// the test, or fails it when CI is set; any other start failure fails it.
func Shared(t testing.TB) *Server {
	t.Helper()
	switch {
	case shared != nil:
		return shared
	case errors.Is(errShared, ErrNotInstalled) && os.Getenv("CI") == "":
		t.Skip(errShared)
	default:
		t.Fatalf("PostgreSQL test server: %v", errShared)
	}
	return nil
}

// NewDatabase creates a database for this test on the shared server, drops
// it when the test ends, and returns its URL (password included).
func NewDatabase(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name := DatabaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := s.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DropDatabase(ctx, name); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return dsn
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// DatabaseName turns a test name into a unique, valid database name.
func DatabaseName(testName string) string {
	n := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	return fmt.Sprintf("t_%.40s_%d", n, dbSeq.Add(1))
}

// StartForTest starts a server of the test's own and stops it when the test
// ends. Without the binaries it skips the test, or fails it when CI is set.
func StartForTest(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx)
	switch {
	case errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "":
		t.Skip(err)
	case err != nil:
		t.Fatalf("PostgreSQL test server: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("stop PostgreSQL: %v", err)
		}
	})
	return s
}
