package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An alerts file that cannot work fails the worker's start, naming it;
// without one nothing is served.
func TestAlertsSetupRefusesABadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(p, []byte("auth: {bearer: literal-token}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := alertsSetup(Config{AlertsFile: p}, nil, nil, nil)
	if err == nil || w != nil || !strings.Contains(err.Error(), p+": auth.bearer must be env:NAME") {
		t.Fatalf("alertsSetup = %v, %v; want the file's problem", w, err)
	}
	w, err = alertsSetup(Config{}, nil, nil, nil)
	if w != nil || err != nil {
		t.Fatalf("without RUNBOOK_ALERTS_FILE: %v, %v; want nothing", w, err)
	}
	if stop := w.startBreaker(t.Context()); stop == nil {
		t.Fatal("startBreaker of no wiring returned no stop")
	}
}
