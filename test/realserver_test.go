package test

// The shared stack on a real Temporal server: with RUNBOOK_TEST_TEMPORAL=server
// the package's tests run against the pinned go.temporal.io/server build on
// PostgreSQL (internal/testenv/temporalserver) instead of the CLI's dev
// server, so what a team runs in production is what the tests prove.

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/internal/testenv/temporalserver"
)

// TemporalModeEnv selects the server of the shared stack: "server" is the
// real server on PostgreSQL; unset or "dev" the CLI's dev server.
const TemporalModeEnv = "RUNBOOK_TEST_TEMPORAL"

// onRealServer reports whether the shared stack is the real server.
func onRealServer() bool { return os.Getenv(TemporalModeEnv) == "server" }

// realStack holds the real server and its PostgreSQL while the package runs.
var realStack struct {
	pg  *pg.Server
	srv *temporalserver.Server
}

// startRealServer starts PostgreSQL and the server on it, with the
// namespaces the tests use, and returns the frontend's address and the
// server's log. missing reports that a binary is not installed.
func startRealServer(ctx context.Context, namespaces []string) (address, log string, missing bool, err error) {
	if _, _, _, err := temporalserver.Find(); err != nil {
		return "", "", errors.Is(err, temporalserver.ErrNotInstalled), err
	}
	if realStack.pg, err = pg.Start(ctx); err != nil {
		return "", "", errors.Is(err, pg.ErrNotInstalled), err
	}
	dir := filepath.Join(stack.tmp, "temporal-server")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", false, err
	}
	realStack.srv, err = temporalserver.Start(ctx, temporalserver.Options{PG: realStack.pg, Dir: dir, Namespaces: namespaces})
	if err != nil {
		return "", "", false, err
	}
	return realStack.srv.Address, realStack.srv.Log, false, nil
}

// stopRealServer stops the server, then PostgreSQL, by pid.
func stopRealServer() {
	if realStack.srv != nil {
		_ = realStack.srv.Stop()
	}
	if realStack.pg != nil {
		_ = realStack.pg.Stop()
	}
}
