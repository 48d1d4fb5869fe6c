// Package trust loads the worker's trust roots for the workflows: the
// allowed signers, groups, OIDC issuer and Slack mappings that turn a signed
// decision into a verified identity. Workflows verify signatures themselves,
// as pure computation in their Update validators; this activity is the only
// place the roots are read, so every check in a run uses the same roots and
// history records which.
package trust

import (
	"context"

	"github.com/runbookhq/runbook/internal/identity"
)

// Activities hold the worker's trust-root configuration.
type Activities struct {
	Config identity.Config
}

// LoadInput is empty: the roots come from the worker, never the caller.
type LoadInput struct{}

// LoadTrustRoots reads and checks the trust roots. A bad file is an error
// naming it; no configuration at all is an empty Roots.
func (a *Activities) LoadTrustRoots(ctx context.Context, _ LoadInput) (identity.Roots, error) {
	return identity.Load(ctx, a.Config)
}
