package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exampleRunbook is the runbook the project ships; tests run in cmd/runbook.
const exampleRunbook = "../../runbooks/examples/checkout.yaml"

// goodDigest is a well-formed digest (of nothing in particular).
var goodDigest = "sha256:" + strings.Repeat("0f", 32)

// run executes the root command in-process with args and returns what it
// wrote and the error RunE returned.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd(&out, &errOut)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// asExit returns err as an *exitError, failing the test otherwise.
func asExit(t *testing.T, err error) *exitError {
	t.Helper()
	var exit *exitError
	if !errors.As(err, &exit) {
		t.Fatalf("err = %T %v, want an *exitError", err, err)
	}
	return exit
}

// isolateConfig points the Temporal settings at a port nothing listens on,
// and keeps the person's own Temporal config and runbook state out of the
// test. It returns the address.
func isolateConfig(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TEMPORAL_") || strings.HasPrefix(name, "RUNBOOK_") {
			t.Setenv(name, "")
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir()
	t.Setenv("TEMPORAL_ADDRESS", addr)
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "no-temporal-config.toml"))
	t.Setenv("RUNBOOK_STATE_DIR", filepath.Join(dir, "state"))
	t.Setenv("RUNBOOK_USER", "alice")
	return addr
}

// writeFile writes content into a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func describe(stdout, stderr string, err error) string {
	return fmt.Sprintf("err: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
}
