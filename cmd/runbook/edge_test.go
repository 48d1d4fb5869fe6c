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
