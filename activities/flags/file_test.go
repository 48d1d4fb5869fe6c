package flags

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/flagd"
)

// TestFileRolloutAndRestore: a flag with a person's own definition is set
// through stages, each read back, then restored exactly; a flag that did
// not exist is removed again; the split is close to the percentage.
func TestFileRolloutAndRestore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	own := `{"flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
	  "metadata": {"owner": "payments"}}}, "$evaluators": {"x": {"in": ["a", "b"]}}}`
	if err := os.WriteFile(path, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &Activities{}
	ctx := context.Background()
	target := Target{Provider: "file", Options: map[string]string{"path": path}, Flags: []string{"new-checkout", "fresh"}}
	before, err := a.ReadFlags(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if !before.Definitions[0].Exists || before.Definitions[1].Exists || before.Definitions[0].Describe() != "off" {
		t.Fatalf("before: %+v", before.Definitions)
	}
	for _, r := range []Rollout{{On: true, Percentage: 10}, {On: true, Segments: []string{"beta"}}, {On: true, Percentage: 100}} {
		got, err := a.SetFlags(ctx, SetFlagsInput{Target: target, Rollout: r})
		if err != nil {
			t.Fatalf("set %s: %v", r, err)
		}
		if got.Definitions[1].Describe() != r.String() {
			t.Errorf("fresh reads %s, want %s", got.Definitions[1].Describe(), r)
		}
	}
	f, _ := flagd.Read(path)
	if v, reason := f.Evaluate("new-checkout", "user-1", ""); v != "on" || reason != "DEFAULT" {
		t.Errorf("at 100%%: %s %s", v, reason)
	}
	if _, err := a.SetFlags(ctx, SetFlagsInput{Target: target, Rollout: Rollout{On: true, Percentage: 25}}); err != nil {
		t.Fatal(err)
	}
	f, _ = flagd.Read(path)
	on := 0
	for i := range 4000 {
		if v, _ := f.Evaluate("new-checkout", fmt.Sprintf("user-%d", i), ""); v == "on" {
			on++
		}
	}
	if on < 800 || on > 1200 {
		t.Errorf("25%% split gave %d of 4000 on", on)
	}
	if _, err := a.RestoreFlags(ctx, RestoreFlagsInput{Provider: "file", Options: target.Options, Definitions: before.Definitions}); err != nil {
		t.Fatal(err)
	}
	after, _ := a.ReadFlags(ctx, target)
	if !SameDefinition(after.Definitions[0], before.Definitions[0]) || after.Definitions[1].Exists {
		t.Errorf("after restore: %+v", after.Definitions)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"$evaluators"`) || !strings.Contains(string(data), `"owner": "payments"`) {
		t.Errorf("the restore lost the file's other keys or the flag's metadata:\n%s", data)
	}
}

// TestFileProviderNeedsPath: a clear error names the option.
func TestFileProviderNeedsPath(t *testing.T) {
	if _, err := New("file", nil); err == nil || !strings.Contains(err.Error(), "options.path") {
		t.Errorf("got %v", err)
	}
	if _, err := New("nope", nil); err == nil || !strings.Contains(err.Error(), "known: file") {
		t.Errorf("got %v", err)
	}
}

// TestFilePathFromTheWorkersEnvironment: options.path may be env:NAME (a
// path per machine), resolved under RUNBOOK_ENV_ALLOW like any reference.
func TestFilePathFromTheWorkersEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	t.Setenv("E2E_FLAGS_FILE", path)
	if _, err := New("file", map[string]string{"path": "env:E2E_FLAGS_FILE"}); err == nil || !strings.Contains(err.Error(), "RUNBOOK_ENV_ALLOW") {
		t.Fatalf("an unlisted variable: %v, want a refusal naming RUNBOOK_ENV_ALLOW", err)
	}
	t.Setenv("RUNBOOK_ENV_ALLOW", "E2E_*")
	p, err := New("file", map[string]string{"path": "env:E2E_FLAGS_FILE"})
	if err != nil || p.(*FileProvider).Path != path {
		t.Fatalf("got %v %v, want the file provider at %s", p, err, path)
	}
}
