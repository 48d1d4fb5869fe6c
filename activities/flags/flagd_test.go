package flags

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/ofrepfake"
)

// flagdTarget writes a definitions file with a person's flag and serves it
// through a fake flagd that takes lag to pick up changes.
func flagdTarget(t *testing.T, lag time.Duration) (*ofrepfake.Server, Target) {
	path := filepath.Join(t.TempDir(), "flags.json")
	own := `{"flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}`
	if err := os.WriteFile(path, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	s := ofrepfake.New(t, path, lag)
	return s, Target{Provider: "flagd", Options: map[string]string{"path": path, "url": s.URL}, Flags: []string{"new-checkout", "fresh"}}
}

// Each stage counts only once flagd serves it: flagd serves a change only
// a lag after the write, so every read-back must wait for it (one that
// did not would fail on flagd's old answers); the restore is read back
// through flagd too (the fresh flag gone).
func TestFlagdReadsBackThroughFlagd(t *testing.T) {
	_, target := flagdTarget(t, 300*time.Millisecond)
	a := &Activities{}
	ctx := context.Background()
	before, err := a.ReadFlags(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Rollout{{On: true, Percentage: 30}, {On: true, Segments: []string{"beta"}}, {On: true, Percentage: 100}} {
		if _, err := a.SetFlags(ctx, SetFlagsInput{Target: target, Rollout: r}); err != nil {
			t.Fatalf("set %s: %v", r, err)
		}
	}
	// RestoreFlags reads back through flagd: it fails unless flagd
	// answers FLAG_NOT_FOUND for the fresh flag and the person's default.
	after, err := a.RestoreFlags(ctx, RestoreFlagsInput{Provider: "flagd", Options: target.Options, Definitions: before.Definitions})
	if err != nil {
		t.Fatal(err)
	}
	if !SameDefinition(after.Definitions[0], before.Definitions[0]) || after.Definitions[1].Exists {
		t.Errorf("after restore: %+v", after.Definitions)
	}
}

// A flagd that does not serve the file (here: it stopped reading it) fails
// the stage with an error saying what flagd answers and what to check.
func TestFlagdNotServingTheFile(t *testing.T) {
	s, target := flagdTarget(t, 0)
	if _, err := (&Activities{}).ReadFlags(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	s.Freeze()
	p, err := NewFlagdProvider(target.Options)
	if err != nil {
		t.Fatal(err)
	}
	p.(*FlagdProvider).Wait = 500 * time.Millisecond
	ctx := context.Background()
	if err := p.Apply(ctx, "new-checkout", Rollout{On: true, Percentage: 100}); err != nil {
		t.Fatal(err)
	}
	_, err = p.Read(ctx, "new-checkout")
	if err == nil || !strings.Contains(err.Error(), "does not serve new-checkout") || !strings.Contains(err.Error(), "flagd answers off, the file on") {
		t.Errorf("got %v", err)
	}
}
