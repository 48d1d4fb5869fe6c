// Package flags changes feature flags for the flag step kind, through one
// small interface in front of each flag system (like the traffic routers):
// read a flag's whole definition, apply a rollout, put a definition back.
// Every change is read back before it counts.
package flags

import (
	"context"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// Rollout is what one stage of a flag step sets (see flagapi.Rollout; the
// alias lets provider subpackages implement Provider without importing
// this package).
type Rollout = flagapi.Rollout

// Definition is a flag's whole definition as the provider holds it (see
// flagapi.Definition).
type Definition = flagapi.Definition

// Provider is one flag system.
type Provider interface {
	// Read returns flag's current definition (Exists false when absent).
	Read(ctx context.Context, flag string) (Definition, error)
	// Apply sets flag's rollout, creating the flag when absent.
	Apply(ctx context.Context, flag string, r Rollout) error
	// Restore puts a definition Read returned back (deleting the flag when
	// it did not exist).
	Restore(ctx context.Context, d Definition) error
}

// Factory makes a provider from the environment's flags options, as the
// runbook wrote them: a provider resolves its own env:NAME token reference
// (and refuses a literal token, which the workflow history would record).
type Factory func(options map[string]string) (Provider, error)
