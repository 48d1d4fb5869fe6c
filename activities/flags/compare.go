package flags

import "github.com/runbookhq/runbook/activities/flags/flagapi"

// SameDefinition compares two definitions by meaning: existence and the
// provider's document as JSON values (flagapi.Same).
func SameDefinition(a, b Definition) bool { return flagapi.Same(a, b) }
