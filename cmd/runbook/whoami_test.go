package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/identity"
)

// whoami says how the CLI signs, and checks it the way a worker would.
func TestWhoami(t *testing.T) {
	isolateConfig(t)
	out, _, err := run(t, "whoami")
	if err != nil || !strings.Contains(out, "alice, unsigned") {
		t.Fatalf("whoami without a key = %q, %v; want it to say alice is unsigned", out, err)
	}

	dir := t.TempDir()
	_, signers, err := identity.LocalKeyring(dir, "alice", "bob")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNBOOK_SIGNING_KEY", filepath.Join(dir, "alice"))
	out, _, err = run(t, "whoami", "--allowed-signers", signers)
	if err != nil || !strings.Contains(out, "signs as alice with SSH key SHA256:") || !strings.Contains(out, "accepts it: alice (ssh SHA256:") {
		t.Fatalf("whoami with alice's key = %q, %v; want signed as alice and accepted", out, err)
	}
	t.Setenv("RUNBOOK_SIGNER", "bob")
	_, _, err = run(t, "whoami", "--allowed-signers", signers)
	if err == nil || !strings.Contains(err.Error(), "would refuse") || !strings.Contains(err.Error(), "may not sign as bob") {
		t.Fatalf("alice's key signing as bob = %v; want the worker's refusal", err)
	}
}
