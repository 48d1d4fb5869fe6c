package releases

import (
	"testing"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

// Only ended releases are kept, per run: the same ID started again is
// another run, and a nil cache keeps nothing.
func TestFinalCache(t *testing.T) {
	var f FinalCache
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f.put("release/a/1.0.0", t0, workflows.ReleaseStatus{ReleaseID: "release/a/1.0.0", State: workflows.StateRunning})
	if _, ok := f.get("release/a/1.0.0", t0); ok {
		t.Fatal("a running release was kept")
	}
	f.put("release/a/1.0.0", t0, workflows.ReleaseStatus{ReleaseID: "release/a/1.0.0", State: workflows.StateSucceeded})
	if st, ok := f.get("release/a/1.0.0", t0); !ok || st.State != workflows.StateSucceeded {
		t.Fatalf("ended release: %+v %v", st, ok)
	}
	if _, ok := f.get("release/a/1.0.0", t0.Add(time.Hour)); ok {
		t.Error("another run of the same release ID was answered from the first")
	}
	var none *FinalCache
	none.put("x", t0, workflows.ReleaseStatus{State: workflows.StateSucceeded})
	if _, ok := none.get("x", t0); ok {
		t.Error("a nil cache answered")
	}
	if f.Len() != 1 {
		t.Errorf("Len %d, want 1", f.Len())
	}
}
