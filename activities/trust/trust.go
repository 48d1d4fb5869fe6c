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

// LoadInput names the roots the workflow has already, by digest; the roots
// themselves come from the worker, never the caller.
type LoadInput struct {
	Known string `json:"known,omitempty"`
}

// LoadTrustRoots reads and checks the trust roots. A bad file is an error
// naming it; no configuration at all is an empty Roots. Roots equal to the
// ones the workflow knows come back as their digest alone (Unchanged), so a
// reload at every gate does not copy the allowed signers into history again.
func (a *Activities) LoadTrustRoots(ctx context.Context, in LoadInput) (identity.Roots, error) {
	r, err := identity.Load(ctx, a.Config)
	if err != nil {
		return identity.Roots{}, err
	}
	if in.Known != "" && in.Known == r.Digest {
		return identity.Roots{Digest: r.Digest, Unchanged: true}, nil
	}
	return r, nil
}
