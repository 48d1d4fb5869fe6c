package traffic

import (
	"maps"
	"slices"
	"testing"

	"github.com/runbookhq/runbook/internal/providers"
)

// The registry builds exactly the routers the runbook format names: a
// router added to one and not the other fails here, not in a release.
func TestRoutersMatchProviderNames(t *testing.T) {
	got := slices.Sorted(maps.Keys(routers))
	want := slices.Sorted(slices.Values(providers.Traffic()))
	if !slices.Equal(got, want) {
		t.Fatalf("traffic routers %v, internal/providers names %v: add the router to both", got, want)
	}
}
