package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdgeRefusesShortToken starts `runbook edge` with a token one byte too
// short: it must refuse before listening, saying how to make a good one.
func TestEdgeRefusesShortToken(t *testing.T) {
	t.Setenv(edgeTokenEnv, strings.Repeat("a", 31))
	state := filepath.Join(t.TempDir(), "edge.json")
	_, _, err := run(t, "edge", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--state", state)
	if err == nil {
		t.Fatal("a 31-byte RUNBOOK_EDGE_TOKEN was accepted")
	}
	for _, want := range []string{edgeTokenEnv, "31 bytes", "at least 32", "openssl rand -hex 32"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, statErr := os.Stat(state); statErr == nil {
		t.Error("the state file was written although the token was refused")
	}
}

// TestLocalEdgeTokenRefusesShortFile keeps a short token in the state
// directory: `runbook dev` must refuse it and say to delete the file.
func TestLocalEdgeTokenRefusesShortFile(t *testing.T) {
	t.Setenv(edgeTokenEnv, "")
	dir := t.TempDir()
	file := filepath.Join(dir, "edge.token")
	if err := os.WriteFile(file, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := localEdgeToken(dir)
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("short token file: got %v, want an error naming %s and saying to delete it", err, file)
	}
	// A generated token is long enough for the edge.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	tok, _, err := localEdgeToken(dir)
	if err != nil || len(tok) < 32 {
		t.Fatalf("generated token: %d bytes, %v", len(tok), err)
	}
}
