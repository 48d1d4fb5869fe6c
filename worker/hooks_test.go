package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A trigger file that cannot work fails the worker's start, naming it.
func TestHooksSetupRefusesABadTriggerFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "triggers.yaml")
	if err := os.WriteFile(p, []byte("triggers:\n  - name: x\n    source: github\n    repository: a/b\n    runbook: /nonexistent.yaml\n    secret: literal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := hooksSetup(Config{TriggersFile: p}, nil)
	if err == nil || h != nil || !strings.Contains(err.Error(), p+":2:") || !strings.Contains(err.Error(), "secret must be env:NAME") {
		t.Fatalf("hooksSetup = %v, %v; want the file's problems", h, err)
	}
	if h, err := hooksSetup(Config{}, nil); h != nil || err != nil {
		t.Fatalf("without RUNBOOK_TRIGGERS_FILE: %v, %v; want nothing", h, err)
	}
}
