package worker

import (
	"maps"
	"slices"
	"testing"

	"github.com/runbookhq/runbook/internal/providers"
)

// The worker builds exactly the metrics providers the runbook format names:
// a provider added to one and not the other fails here, not in a release.
func TestMetricsProvidersMatchProviderNames(t *testing.T) {
	got := slices.Sorted(maps.Keys(metricsProviders))
	want := slices.Sorted(slices.Values(providers.Metrics()))
	if !slices.Equal(got, want) {
		t.Fatalf("worker metrics providers %v, internal/providers names %v: add the provider to both", got, want)
	}
}
