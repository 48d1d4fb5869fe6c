package devstack

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFindTemporalSearchesParentDirectories(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, ".tools", "bin", "temporal")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNBOOK_TEMPORAL_BIN", "")
	t.Chdir(deep)
	got, err := FindTemporal()
	if err != nil {
		t.Fatal(err)
	}
	if got != bin {
		t.Fatalf("FindTemporal() = %s, want %s", got, bin)
	}
}

func TestFindTemporalHonoursEnvironment(t *testing.T) {
	t.Setenv("RUNBOOK_TEMPORAL_BIN", filepath.Join(t.TempDir(), "missing"))
	if _, err := FindTemporal(); err == nil {
		t.Fatal("a missing RUNBOOK_TEMPORAL_BIN must be an error, not a silent fallback")
	}
}

func TestPortFreeExplainsBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = portFree(port)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "--port") {
		t.Fatalf("busy port %d: want an error naming the fix, got %v", port, err)
	}
}

// A server that exits during start-up is reported as such, and Start
// returns: the exit seen while waiting must not leave Stop waiting for it
// again (it hung the test process until its timeout).
func TestStartReportsAServerThatExits(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "temporal")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := Start(context.Background(), Options{Bin: bin, Port: 17239, UIPort: -1, ReadyTimeout: time.Minute})
		errc <- err
	}()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
			t.Fatalf("Start = %v, want the exit during start-up", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not return after the server exited")
	}
}
