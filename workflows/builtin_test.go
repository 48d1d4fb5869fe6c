package workflows

import (
	"slices"
	"testing"

	"github.com/runbookhq/runbook/runbooks"
)

// The validator reserves exactly the names of the built-in steps.
func TestBuiltinStepNamesAreReserved(t *testing.T) {
	for _, name := range []string{BuiltinWindow, BuiltinArtifact, BuiltinSlots, BuiltinRisk, BreakGlassGate} {
		if !slices.Contains(runbooks.ReservedStepNames, name) {
			t.Errorf("built-in step %q is not in runbooks.ReservedStepNames %v", name, runbooks.ReservedStepNames)
		}
	}
}
