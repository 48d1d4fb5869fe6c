package flags

import (
	"maps"
	"slices"
	"testing"

	"github.com/runbookhq/runbook/internal/providers"
)

// The factory table builds exactly the providers internal/providers lists:
// a provider added to one and not the other fails here.
func TestFactoriesMatchProviderNames(t *testing.T) {
	got := slices.Sorted(maps.Keys(factories))
	want := slices.Sorted(slices.Values(providers.Flags()))
	if !slices.Equal(got, want) {
		t.Errorf("flag factories %v, internal/providers.Flags %v", got, want)
	}
}
