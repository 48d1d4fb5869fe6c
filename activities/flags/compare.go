package flags

import "github.com/runbookhq/runbook/activities/flags/flagapi"

// sameDefinition compares two definitions by meaning (flagapi.Same).
func sameDefinition(a, b Definition) bool { return flagapi.Same(a, b) }
