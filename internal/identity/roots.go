package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/oidc"
	"github.com/runbookhq/runbook/internal/sshsig"
)

// Roots are the worker's trust roots: public material only (keys, names,
// groups), so they may travel through workflow history. Identities and
// groups come from here, never from a request or a runbook.
type Roots struct {
	// AllowedSigners is the text of an allowed-signers file in git's
	// format (principals, options, key); AllowedSignersFile names it.
	AllowedSigners     string `json:"allowed-signers,omitempty"`
	AllowedSignersFile string `json:"allowed-signers-file,omitempty"`
	// Groups maps a group to its members' identities.
	Groups map[string][]string `json:"groups,omitempty"`
	// OIDC is the trusted ID token issuer, if any.
	OIDC *OIDCRoots `json:"oidc,omitempty"`
	// SlackUsers maps Slack user IDs to identities.
	SlackUsers map[string]string `json:"slack-users,omitempty"`
	// Digest is the SHA-256 of the roots' canonical JSON: which roots a
	// run verified with. Unchanged marks an answer that carries only the
	// digest, because the caller has these roots already.
	Digest    string `json:"digest,omitempty"`
	Unchanged bool   `json:"unchanged,omitempty"`
}

// digest is the SHA-256 of the roots without Digest and Unchanged.
func (r Roots) digest() string {
	r.Digest, r.Unchanged = "", false
	b, _ := json.Marshal(r) // maps marshal in key order: canonical
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// OIDCRoots trust one issuer's ID tokens for one audience.
type OIDCRoots struct {
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
	// IdentityClaim names the person (default email); GroupsClaim holds
	// their groups (default groups).
	IdentityClaim string          `json:"identity-claim,omitempty"`
	GroupsClaim   string          `json:"groups-claim,omitempty"`
	JWKS          json.RawMessage `json:"jwks"`
}

// Configured reports whether any way to verify a decision is set up.
func (r Roots) Configured() bool {
	return strings.TrimSpace(r.AllowedSigners) != "" || r.OIDC != nil
}

// Methods lists the methods the roots can verify, for status and errors.
func (r Roots) Methods() []string {
	var ms []string
	if strings.TrimSpace(r.AllowedSigners) != "" {
		ms = append(ms, MethodSSH)
		if len(r.SlackUsers) > 0 {
			ms = append(ms, MethodSlack)
		}
	}
	if r.OIDC != nil {
		ms = append(ms, MethodOIDC)
	}
	return ms
}

// Verifier parses the roots once for many verifications.
func (r Roots) Verifier() (*Verifier, error) {
	v := &Verifier{roots: r}
	if strings.TrimSpace(r.AllowedSigners) != "" {
		s, err := sshsig.ParseAllowedSigners(r.AllowedSigners, r.AllowedSignersFile)
		if err != nil {
			return nil, err
		}
		v.signers = s
	}
	if r.OIDC != nil {
		ks, err := oidc.ParseJWKS(r.OIDC.JWKS)
		if err != nil {
			return nil, fmt.Errorf("JWKS of %s: %w", r.OIDC.Issuer, err)
		}
		v.jwks = ks
	}
	return v, nil
}

// groupNames are the groups in sorted order: workflow code must not depend
// on map order.
func (r Roots) groupNames() []string {
	names := make([]string, 0, len(r.Groups))
	for g := range r.Groups {
		names = append(names, g)
	}
	slices.Sort(names)
	return names
}
