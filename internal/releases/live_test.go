package releases

import (
	"testing"

	"github.com/runbookhq/runbook/activities/metrics"
)

func TestMergeRoundsAddsOnlyNewerRounds(t *testing.T) {
	r := func(n int) metrics.MeasureResult { return metrics.MeasureResult{Round: n, Verdict: metrics.Pass} }
	got := mergeRounds([]metrics.MeasureResult{r(1), r(2)}, []metrics.MeasureResult{r(2), r(3), r(4)})
	if len(got) != 4 || got[2].Round != 3 || got[3].Round != 4 {
		t.Fatalf("merged rounds %+v, want 1 2 3 4", got)
	}
	if got := mergeRounds(nil, []metrics.MeasureResult{r(5)}); len(got) != 1 || got[0].Round != 5 {
		t.Fatalf("merged into nothing: %+v, want round 5", got)
	}
}
