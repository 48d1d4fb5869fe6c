package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalEdgeTokenRefusesShortFile keeps a short token in the state
// directory: `runbook dev` must refuse it and say to delete the file.
func TestLocalEdgeTokenRefusesShortFile(t *testing.T) {
	t.Setenv(EdgeTokenEnv, "")
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
