package terraform

import (
	"slices"
	"testing"
)

// TestResourcesReadsTheState: what a rollback reads back after a destroy,
// on real OpenTofu: nothing before a release, the managed resources after
// one, nothing again after the destroy.
func TestResourcesReadsTheState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws := f.ws("1.0.0")
	read := func() ResourcesResult {
		t.Helper()
		r, err := f.a.Resources(t.Context(), ResourcesInput{Workspace: ws})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := read(); len(r.Addresses) != 0 || r.LastApplied != "" {
		t.Fatalf("before any release: %+v, want no resources", r)
	}
	f.release(ws)
	want := []string{"terraform_data.observed", "terraform_data.release"}
	if r := read(); !slices.Equal(r.Addresses, want) || r.LastApplied != "1.0.0" {
		t.Fatalf("after the release: %+v, want %v of 1.0.0", r, want)
	}
	if _, err := f.a.Destroy(t.Context(), DestroyInput{Workspace: ws}); err != nil {
		t.Fatal(err)
	}
	if r := read(); len(r.Addresses) != 0 {
		t.Fatalf("after the destroy: %+v, want no resources", r)
	}
}
