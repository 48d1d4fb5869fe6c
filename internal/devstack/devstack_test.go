package devstack

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
