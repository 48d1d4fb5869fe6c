package releases

import (
	"context"
	"fmt"
	"strings"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// sign signs claim as the person named as, when the client has a signer.
func (c *Client) sign(ctx context.Context, claim identity.Claim, as string) (*identity.Proof, error) {
	if c.Signer == nil {
		return nil, nil
	}
	p, err := c.Signer.Sign(ctx, claim, as)
	if err != nil {
		return nil, fmt.Errorf("sign the %s: %w", claim.Action, err)
	}
	return p, nil
}

// signerName is who a proof says signs (RUNBOOK_SIGNER may differ from
// --as), else the name given; the worker records the verified name anyway.
func signerName(p *identity.Proof, as string) string {
	if p != nil && p.Statement.Signer != "" {
		return p.Statement.Signer
	}
	return as
}

// signDeploy signs the release as its requester, and refuses an unsigned
// release of a runbook with an environment that needs signed decisions:
// it would only stop there, after the environments before it.
func (c *Client) signDeploy(ctx context.Context, id string, in *workflows.ReleaseInput) error {
	if c.Signer == nil {
		var signed []string
		for i := range in.Runbook.Environments {
			e := &in.Runbook.Environments[i]
			if in.Runbook.Policy.IdentityMode(e) == runbooks.IdentitySigned {
				signed = append(signed, e.Name)
			}
		}
		if len(signed) > 0 {
			return fmt.Errorf("environment %s needs signed decisions (identity: signed, the default for production): "+
				"set RUNBOOK_SIGNING_KEY to your SSH key and RUNBOOK_SIGNER to your principal in the worker's allowed signers "+
				"(or RUNBOOK_OIDC_TOKEN_COMMAND), or set identity: unsigned in the runbook", strings.Join(signed, ", "))
		}
		return nil
	}
	p, err := c.sign(ctx, workflows.DeployClaim(id, in.Version, in.Digest, in.BreakGlass), in.Requester)
	if err != nil {
		return err
	}
	in.RequesterProof = p
	if p.Statement.Signer != "" {
		in.Requester = p.Statement.Signer
	}
	return nil
}

// waitingGate names the one gate waiting in env when the caller named none,
// so the signature covers the gate it decides.
func waitingGate(env workflows.EnvironmentStatus, gate string) string {
	if gate != "" {
		return gate
	}
	if gs := env.PendingGates(); len(gs) == 1 {
		return gs[0].Name
	}
	return ""
}
