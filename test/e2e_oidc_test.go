package test

// OIDC-signed decisions end to end: a real `runbook worker` trusts a real
// test issuer (internal/testenv/oidcissuer) by its JWKS URL; the runbook CLI signs
// with no SSH key, getting each ID token from RUNBOOK_OIDC_TOKEN_COMMAND for
// the nonce of the statement it signs (test/oidctoken asks the issuer's
// mint endpoint, as a person's IdP helper would).

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
	"github.com/runbookhq/runbook/workflows"
)

// oidcRunbook's production gate names one person by the token's email and
// one group from the token's groups claim; production needs signed
// decisions by default.
const oidcRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    approvals:
      - name: go-live
        approvers: [carol@example.com, group:release-managers]
        min-approvals: 2
    steps:
      - name: deploy
        http-check:
          url: {{.X.URL}}/production/${version}
          interval: 250ms
`

// oidcAudience is the audience the worker wants in every ID token.
const oidcAudience = "runbook-e2e"

// oidcPerson is someone the issuer knows.
type oidcPerson struct {
	sub, email string
	groups     []string
}

var oidcPeople = map[string]oidcPerson{
	"alice": {sub: "u-alice", email: "alice@example.com"},
	"carol": {sub: "u-carol", email: "carol@example.com"},
	"dana":  {sub: "u-dana", email: "dana@example.com", groups: []string{"release-managers"}},
	"erin":  {sub: "u-erin", email: "erin@example.com", groups: []string{"developers"}},
}

// oidcIdP is the issuer and the token commands of its people.
type oidcIdP struct {
	iss *oidcissuer.Issuer
	r   *rig
}

// startOIDC starts an issuer and a worker that trusts it.
func startOIDC(t *testing.T, r *rig) *oidcIdP {
	t.Helper()
	binaries(t) // builds test/oidctoken too
	o := &oidcIdP{iss: oidcissuer.Start(t), r: r}
	r.startWorker("RUNBOOK_OIDC_ISSUER="+o.iss.URL(), "RUNBOOK_OIDC_AUDIENCE="+oidcAudience,
		"RUNBOOK_OIDC_JWKS="+o.iss.JWKSURL())
	return o
}

// claims are a person's ID token claims for nonce.
func (p oidcPerson) claims(nonce string) map[string]any {
	c := map[string]any{"aud": oidcAudience, "sub": p.sub, "email": p.email, "nonce": nonce}
	if len(p.groups) > 0 {
		c["groups"] = p.groups
	}
	return c
}

// identityOf is the audit identity the worker records for name's tokens.
func (o *oidcIdP) identityOf(name string) string {
	return identity.MethodOIDC + " " + o.iss.URL() + " " + oidcPeople[name].sub
}

// cliEnv is the CLI's environment signing as name through the issuer's
// profile: no SSH key (RUNBOOK_SIGNING_KEY empty), the token command only.
func (o *oidcIdP) cliEnv(name string, profile oidcissuer.Profile) []string {
	url := o.iss.MintURL(name, profile)
	return append(slices.Clone(o.r.env), "RUNBOOK_SIGNING_KEY=",
		fmt.Sprintf("RUNBOOK_OIDC_TOKEN_COMMAND='%s' '%s'", stack.oidctoken, url))
}

// as signs as the person with valid tokens for each statement.
func (o *oidcIdP) as(name string) []string {
	p := oidcPeople[name]
	return o.cliEnv(name, func(nonce string) (map[string]any, []oidcissuer.MintOption) { return p.claims(nonce), nil })
}

// cli runs the CLI with env and --as name (the name alone proves nothing).
func (o *oidcIdP) cli(env []string, name string, args ...string) result {
	o.r.t.Helper()
	return runCLI(o.r.t, env, "", append(args, "--as", name)...)
}

// TestOIDCSignedDecisions: in a production environment (signed by default)
// the requester's deploy and both approvals are signed with ID tokens only.
// The gate takes carol by her email and dana by her token's group; a token
// for another statement, an expired token, the requester's own token and a
// token of someone the gate does not name are refused. Status and the audit
// log show each decision's identity as "oidc ISSUER SUBJECT" and the token's
// email as actor.
func TestOIDCSignedDecisions(t *testing.T) {
	t.Parallel()
	r := newRig(t, "oidc")
	rec := newRecorder(t)
	o := startOIDC(t, r)
	path, digest := r.writeRunbook("runbook.yaml", oidcRunbook, map[string]any{"URL": rec.srv.URL})

	o.cli(o.as("alice"), "alice", "deploy", path, "--version", "1.0.0", "--digest", digest)
	id := workflows.ReleaseID(r.service, "1.0.0")
	st := r.waitFor(id, "gate go-live waiting", gateWaiting("production", "go-live"))
	if req := env(t, st, "production").Requester; req == nil || req.Name != "alice@example.com" ||
		req.Method != identity.MethodOIDC || req.Key != o.iss.URL()+" u-alice" {
		t.Fatalf("production's requester is %+v, want alice@example.com verified by her ID token", req)
	}
	if !hasAuditIdentity(r.auditRecords(id), "release.requester", "alice@example.com", o.identityOf("alice")) {
		t.Errorf("the audit log has no release.requester alice@example.com with identity %q", o.identityOf("alice"))
	}

	refuseOIDCApprovals(t, o, id)

	o.cli(o.as("carol"), "carol", "approve", id)
	o.cli(o.as("dana"), "dana", "approve", id)
	st = r.waitFor(id, "release finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "production")
	g := step(t, env(t, r.status(id), "production"), "go-live").Gate
	var got []string
	for _, d := range g.Approvals {
		got = append(got, d.Actor+" "+d.Verified)
	}
	want := []string{"carol@example.com " + o.identityOf("carol"), "dana@example.com " + o.identityOf("dana")}
	if !slices.Equal(got, want) {
		t.Errorf("go-live approvals in status: %q, want %q", got, want)
	}
	out := r.mustCLI("status", id).stdout
	for _, want := range []string{"requested by alice@example.com (" + o.identityOf("alice") + ")",
		"approved by carol@example.com (" + o.identityOf("carol") + ")", "approved by dana@example.com (" + o.identityOf("dana") + ")"} {
		if !strings.Contains(out, want) {
			t.Errorf("runbook status lacks %q:\n%s", want, out)
		}
	}
	recs := r.auditRecords(id)
	for _, name := range []string{"carol", "dana"} {
		if !hasAuditIdentity(recs, "gate.approved", oidcPeople[name].email, o.identityOf(name)) {
			t.Errorf("the audit log has no gate.approved by %s with identity %q", oidcPeople[name].email, o.identityOf(name))
		}
	}
	r.exportRelease(t, st, "production", "oidc-approved")
}

// refuseOIDCApprovals tries approvals the gate must refuse, each for its
// reason, and checks that none counted.
func refuseOIDCApprovals(t *testing.T, o *oidcIdP, id string) {
	t.Helper()
	carol := oidcPeople["carol"]
	otherNonce := o.cliEnv("carol-other-nonce", func(string) (map[string]any, []oidcissuer.MintOption) {
		return carol.claims(identity.NonceOf(identity.Statement{V: 1, Action: identity.ActionApprove, Nonce: "another"})), nil
	})
	expired := o.cliEnv("carol-expired", func(nonce string) (map[string]any, []oidcissuer.MintOption) {
		return carol.claims(nonce), []oidcissuer.MintOption{oidcissuer.WithNow(time.Now().Add(-20 * time.Minute))}
	})
	for _, tc := range []struct {
		what, as string
		env      []string
		want     string
	}{
		{"a token for another statement", "carol", otherNonce, "the token was issued for another statement"},
		{"an expired token", "carol", expired, "token exp is"},
		{"the requester's own token", "alice", o.as("alice"), "alice@example.com started this release and may not approve it"},
		{"a token of someone the gate does not name", "erin", o.as("erin"),
			"erin@example.com may not decide gate go-live; approvers: carol@example.com, group:release-managers"},
	} {
		res := o.cli(tc.env, tc.as, "approve", id)
		t.Logf("approval with %s: %s", tc.what, strings.TrimSpace(res.stderr))
		if res.code == 0 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("approval with %s: %s\nwant a refusal saying %q", tc.what, res, tc.want)
		}
	}
	g := step(t, env(t, o.r.status(id), "production"), "go-live").Gate
	if g.State != workflows.StateWaiting || len(g.Approvals) != 0 {
		t.Fatalf("after the refused approvals go-live is %s with %d approvals, want waiting with none", g.State, len(g.Approvals))
	}
}

// hasAuditIdentity reports whether an audit entry has action, actor and
// identity (how the actor was verified).
func hasAuditIdentity(recs []map[string]any, action, actor, ident string) bool {
	return slices.ContainsFunc(recs, func(e map[string]any) bool {
		return e["action"] == action && e["actor"] == actor && e["identity"] == ident
	})
}
