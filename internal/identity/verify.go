package identity

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/internal/oidc"
	"github.com/runbookhq/runbook/internal/sshsig"
)

// Freshness of a statement at the verifier: long enough for a slow Update
// round trip and a little clock skew, short enough that a captured
// signature is useless soon after.
const (
	MaxAge   = 10 * time.Minute
	MaxSkew  = 2 * time.Minute
	maxProof = 16 << 10
)

// Proof travels with a request: the signed statement and what proves it.
// It holds no secret: a signature, or an ID token bound by its nonce to this
// one statement and audience.
type Proof struct {
	Method    string    `json:"method"`
	Statement Statement `json:"statement"`
	// Signature is the armored SSHSIG of the statement (ssh, slack).
	Signature string `json:"signature,omitempty"`
	// IDToken is the OIDC ID token whose nonce is NonceOf(statement).
	IDToken string `json:"id-token,omitempty"`
	// SlackUser is the Slack user the worker signed for (slack).
	SlackUser string `json:"slack-user,omitempty"`
}

// Identity is who made a decision, as verified.
type Identity struct {
	// Name is the principal (allowed signers), the token's identity claim,
	// or the Slack user's mapped identity; for unsigned decisions, the name
	// the client gave.
	Name   string `json:"name"`
	Method string `json:"method"`
	// Key is the SSH key's fingerprint, the token's issuer and subject, or
	// the Slack user ID.
	Key    string   `json:"key,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// Verified reports whether the identity was proven.
func (id Identity) Verified() bool { return id.Method != "" && id.Method != MethodUnsigned }

// String is "alice (ssh SHA256:…)" or "alice (unsigned)".
func (id Identity) String() string {
	if id.Key == "" {
		return fmt.Sprintf("%s (%s)", id.Name, id.Method)
	}
	return fmt.Sprintf("%s (%s %s)", id.Name, id.Method, id.Key)
}

// Unsigned is the identity of a decision without proof: a name, unverified.
func Unsigned(name string) Identity {
	return Identity{Name: name, Method: MethodUnsigned}
}

// NonceOf is the nonce an ID token must carry to prove statement s.
func NonceOf(s Statement) string { return oidc.NonceFor(s.Bytes()) }

// Verifier checks proofs against parsed trust roots.
type Verifier struct {
	roots   Roots
	signers *sshsig.AllowedSigners
	jwks    *oidc.KeySet
}

// Verify checks that p proves claim c at time now, and returns who decided.
func (v *Verifier) Verify(p *Proof, c Claim, now time.Time) (Identity, error) {
	if p == nil {
		return Identity{}, fmt.Errorf("the decision is not signed")
	}
	if len(p.Signature)+len(p.IDToken) > maxProof {
		return Identity{}, fmt.Errorf("the proof is larger than %d bytes", maxProof)
	}
	if err := p.Statement.check(c); err != nil {
		return Identity{}, err
	}
	if err := p.Statement.fresh(now, MaxAge, MaxSkew); err != nil {
		return Identity{}, err
	}
	if p.Method != MethodOIDC && strings.TrimSpace(p.Statement.Signer) == "" {
		return Identity{}, fmt.Errorf("the signed statement names no signer")
	}
	return v.Reverify(p, now)
}

// Reverify checks again, against these roots, a proof Verify accepted
// against earlier ones, as of now (when its decision arrived): the
// signature, that the key or Slack mapping is still allowed for its signer,
// and the signer's groups. It does not check the claim or the statement's
// age again; those do not depend on the roots.
func (v *Verifier) Reverify(p *Proof, now time.Time) (Identity, error) {
	if p == nil {
		return Identity{}, fmt.Errorf("the decision is not signed")
	}
	switch p.Method {
	case MethodSSH:
		return v.verifySSH(p, now)
	case MethodSlack:
		return v.verifySlack(p, now)
	case MethodOIDC:
		return v.verifyOIDC(p, now)
	}
	return Identity{}, fmt.Errorf("unknown proof method %q (want ssh, oidc or slack)", p.Method)
}

// verifySSH checks a person's SSHSIG against the allowed signers.
func (v *Verifier) verifySSH(p *Proof, now time.Time) (Identity, error) {
	if v.signers == nil {
		return Identity{}, fmt.Errorf("the worker has no allowed signers file (RUNBOOK_ALLOWED_SIGNERS), so it cannot check SSH signatures")
	}
	key, err := sshsig.Verify([]byte(p.Signature), NamespaceDecision, p.Statement.Bytes())
	if err != nil {
		return Identity{}, fmt.Errorf("signature of %s: %w", p.Statement.Signer, err)
	}
	if err := v.signers.Authorized(p.Statement.Signer, key, NamespaceDecision, now); err != nil {
		return Identity{}, fmt.Errorf("key %s may not sign as %s (%s): %w", ssh.FingerprintSHA256(key),
			p.Statement.Signer, v.roots.AllowedSignersFile, err)
	}
	name := p.Statement.Signer
	return Identity{Name: name, Method: MethodSSH, Key: ssh.FingerprintSHA256(key), Groups: v.groupsOf(name, nil)}, nil
}

// verifySlack checks the worker's signature of a Slack click and the
// mapping of the Slack user.
func (v *Verifier) verifySlack(p *Proof, now time.Time) (Identity, error) {
	if v.signers == nil {
		return Identity{}, fmt.Errorf("the worker has no allowed signers file (RUNBOOK_ALLOWED_SIGNERS), so it cannot check Slack decisions")
	}
	key, err := sshsig.Verify([]byte(p.Signature), NamespaceSlack, p.Statement.Bytes())
	if err != nil {
		return Identity{}, fmt.Errorf("worker signature of the Slack decision: %w", err)
	}
	if len(v.signers.Principals(key, NamespaceSlack, now)) == 0 || !v.signers.RestrictsNamespace(key, NamespaceSlack) {
		return Identity{}, fmt.Errorf("key %s is not the worker's Slack key: list it in %s with namespaces=%q only",
			ssh.FingerprintSHA256(key), v.roots.AllowedSignersFile, NamespaceSlack)
	}
	mapped, ok := v.roots.SlackUsers[p.SlackUser]
	if !ok || mapped == "" {
		return Identity{}, fmt.Errorf("the Slack user %s is not mapped to a runbook identity (RUNBOOK_SLACK_USERS)", p.SlackUser)
	}
	if mapped != p.Statement.Signer {
		return Identity{}, fmt.Errorf("the Slack user %s is %s, not %s", p.SlackUser, mapped, p.Statement.Signer)
	}
	return Identity{Name: mapped, Method: MethodSlack, Key: p.SlackUser, Groups: v.groupsOf(mapped, nil)}, nil
}

// verifyOIDC checks an ID token bound to the statement by its nonce.
func (v *Verifier) verifyOIDC(p *Proof, now time.Time) (Identity, error) {
	o := v.roots.OIDC
	if o == nil || v.jwks == nil {
		return Identity{}, fmt.Errorf("the worker trusts no OIDC issuer (RUNBOOK_OIDC_ISSUER), so it cannot check ID tokens")
	}
	claims, err := oidc.Verify(p.IDToken, v.jwks, oidc.Expect{
		Issuer: o.Issuer, Audience: o.Audience, Nonce: NonceOf(p.Statement),
		IdentityClaim: o.IdentityClaim, GroupsClaim: o.GroupsClaim, Now: now, MaxAge: MaxAge,
	})
	if err != nil {
		return Identity{}, fmt.Errorf("ID token: %w", err)
	}
	if s := p.Statement.Signer; s != "" && s != claims.Identity {
		return Identity{}, fmt.Errorf("the ID token is %s's, not %s's", claims.Identity, s)
	}
	return Identity{Name: claims.Identity, Method: MethodOIDC, Key: claims.Issuer + " " + claims.Subject,
		Groups: v.groupsOf(claims.Identity, claims.Groups)}, nil
}

// groupsOf is the sorted union of the groups file's groups of name and
// extra (an ID token's groups claim).
func (v *Verifier) groupsOf(name string, extra []string) []string {
	gs := slices.Clone(extra)
	for _, g := range v.roots.groupNames() {
		if slices.Contains(v.roots.Groups[g], name) {
			gs = append(gs, g)
		}
	}
	slices.Sort(gs)
	gs = slices.Compact(gs)
	return slices.DeleteFunc(gs, func(g string) bool { return strings.TrimSpace(g) == "" })
}

// Identify is who a proof names, without checking it again: Update handlers
// call it after their validator verified the proof with Verify. It reads
// only the proof and the roots, never the workflow's IDs or the clock, so a
// replay (which runs handlers but not validators) records the same person.
func (v *Verifier) Identify(p *Proof) Identity {
	switch p.Method {
	case MethodSSH:
		id := Identity{Name: p.Statement.Signer, Method: MethodSSH}
		if key, err := sshsig.Verify([]byte(p.Signature), NamespaceDecision, p.Statement.Bytes()); err == nil {
			id.Key = ssh.FingerprintSHA256(key)
		}
		id.Groups = v.groupsOf(id.Name, nil)
		return id
	case MethodSlack:
		return Identity{Name: p.Statement.Signer, Method: MethodSlack, Key: p.SlackUser, Groups: v.groupsOf(p.Statement.Signer, nil)}
	case MethodOIDC:
		c := tokenClaims(p.IDToken, v.roots.OIDC)
		return Identity{Name: c.name, Method: MethodOIDC, Key: c.issuer + " " + c.subject, Groups: v.groupsOf(c.name, c.groups)}
	}
	return Unsigned(p.Statement.Signer)
}
