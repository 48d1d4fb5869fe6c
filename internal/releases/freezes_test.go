package releases

import (
	"testing"

	"github.com/runbookhq/runbook/activities/freezes"
)

// A restored run must not number a freeze like one it carries, whatever
// its carried counter says (a worker older than the state query reports
// only the list).
func TestHighestNumberedIgnoresOtherIDs(t *testing.T) {
	fs := []freezes.Freeze{{ID: "freeze-3"}, {ID: "freeze-20261125-abcdef"}, {ID: "freeze-12"}, {ID: "freeze-x"}}
	if got := highestNumbered(fs); got != 12 {
		t.Errorf("highestNumbered = %d, want 12", got)
	}
	if got := highestNumbered(nil); got != 0 {
		t.Errorf("highestNumbered(nil) = %d, want 0", got)
	}
}
