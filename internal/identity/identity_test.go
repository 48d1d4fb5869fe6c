package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

// people are the test's keys: alice, bob and the worker's Slack key.
type people struct {
	alice, bob, worker ssh.Signer
	roots              Roots
}

func newSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorizedKey(s ssh.Signer) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func newPeople(t testing.TB) people {
	t.Helper()
	p := people{alice: newSigner(t), bob: newSigner(t), worker: newSigner(t)}
	p.roots = Roots{
		AllowedSigners: fmt.Sprintf("alice %s\nbob %s\nrunbook-worker namespaces=%q %s\n",
			authorizedKey(p.alice), authorizedKey(p.bob), NamespaceSlack, authorizedKey(p.worker)),
		AllowedSignersFile: "allowed_signers",
		Groups:             map[string][]string{"sre": {"bob"}, "cab": {"alice", "bob"}},
		SlackUsers:         map[string]string{"U0BOB": "bob"},
	}
	return p
}

func (p people) verifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := p.roots.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	t0    = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	claim = Claim{Action: ActionApprove, Workflow: "deploy/checkout/production", Run: "run-1", Target: "cab", Comment: "ok"}
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func sign(t *testing.T, key ssh.Signer, as string, c Claim) *Proof {
	t.Helper()
	p, err := SSHSigner{Key: key, Now: at(t0)}.Sign(context.Background(), c, as)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSSHDecisionVerifies(t *testing.T) {
	p := newPeople(t)
	proof := sign(t, p.bob, "bob", claim)
	id, err := p.verifier(t).Verify(proof, claim, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Handlers record Identify's answer; it must be Verify's.
	if got := p.verifier(t).Identify(proof); !reflect.DeepEqual(got, id) {
		t.Errorf("Identify = %+v, Verify = %+v", got, id)
	}
	if id.Name != "bob" || id.Method != MethodSSH || id.Key != ssh.FingerprintSHA256(p.bob.PublicKey()) {
		t.Errorf("identity %+v, want bob by ssh with bob's key", id)
	}
	if got := strings.Join(id.Groups, ","); got != "cab,sre" {
		t.Errorf("groups %q, want cab,sre from the groups file", got)
	}
}

// Each way a hostile colleague would try to pass a decision off.
func TestForgedDecisionsAreRefused(t *testing.T) {
	p := newPeople(t)
	v := p.verifier(t)
	good := sign(t, p.bob, "bob", claim)
	other := func(f func(*Claim)) Claim { c := claim; f(&c); return c }
	tampered := *good
	tampered.Statement.Comment = "changed after signing"
	asSlack := *sign(t, p.bob, "bob", claim)
	asSlack.Method, asSlack.SlackUser = MethodSlack, "U0BOB"
	for _, tc := range []struct {
		name  string
		proof *Proof
		claim Claim
		now   time.Time
		want  string
	}{
		{"alice signs as bob", sign(t, p.alice, "bob", claim), claim, t0, "may not sign as bob"},
		{"unknown person", sign(t, newSigner(t), "bob", claim), claim, t0, "may not sign as bob"},
		{"replayed onto another gate", good, other(func(c *Claim) { c.Target = "qa" }), t0, "valid for one decision only"},
		{"replayed onto another run", good, other(func(c *Claim) { c.Run = "run-2" }), t0, "valid for one decision only"},
		{"replayed onto another release", good, other(func(c *Claim) { c.Workflow = "deploy/other/production" }), t0, "valid for one decision only"},
		{"approval turned into a rejection", good, other(func(c *Claim) { c.Action = ActionReject }), t0, "valid for one decision only"},
		{"comment swapped", good, other(func(c *Claim) { c.Comment = "lgtm" }), t0, "valid for one decision only"},
		{"statement edited after signing", &tampered, other(func(c *Claim) { c.Comment = "changed after signing" }), t0, "signature"},
		{"stale", good, claim, t0.Add(MaxAge + time.Second), "more than"},
		{"from the future", good, claim, t0.Add(-MaxSkew - time.Second), "in the future"},
		{"a person's key passed off as the worker's Slack key", &asSlack, claim, t0, "namespace"},
		{"the worker's Slack key signing as a person", sign(t, p.worker, "runbook-worker", claim), claim, t0, "may not sign"},
		{"no proof", nil, claim, t0, "not signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.proof, tc.claim, tc.now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSlackDecisionSignedByTheWorker(t *testing.T) {
	p := newPeople(t)
	v := p.verifier(t)
	ws := SlackSigner{Key: p.worker, Now: at(t0)}
	proof, err := ws.SignFor(claim, "U0BOB", "bob")
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(proof, claim, t0)
	if err != nil || id.Name != "bob" || id.Method != MethodSlack || id.Key != "U0BOB" {
		t.Fatalf("Verify = %+v, %v; want bob by slack U0BOB", id, err)
	}
	if got := v.Identify(proof); !reflect.DeepEqual(got, id) {
		t.Errorf("Identify = %+v, Verify = %+v", got, id)
	}
	for _, tc := range []struct{ name, user, as, want string }{
		{"unmapped Slack user", "U0EVE", "eve", "not mapped"},
		{"mapped user claiming another identity", "U0BOB", "alice", "is bob, not alice"},
	} {
		proof, err := ws.SignFor(claim, tc.user, tc.as)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(proof, claim, t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Verify = %v, want %q", tc.name, err, tc.want)
		}
	}
	// A person's key signing in the Slack namespace is not the worker.
	forged, err := SlackSigner{Key: p.alice, Now: at(t0)}.SignFor(claim, "U0BOB", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(forged, claim, t0); err == nil || !strings.Contains(err.Error(), "not the worker's Slack key") {
		t.Errorf("alice's key signing a Slack click = %v, want refused", err)
	}
}

func TestOIDCDecisionBoundByNonce(t *testing.T) {
	iss := oidcissuer.Start(t)
	p := newPeople(t)
	p.roots.OIDC = &OIDCRoots{Issuer: iss.URL(), Audience: "runbook", JWKS: iss.JWKS()}
	v := p.verifier(t)
	now := time.Now()
	st := NewStatement(claim, "", now)
	mint := func(nonce string) string {
		return iss.Mint(t, map[string]any{"aud": "runbook", "sub": "u-1", "email": "carol@example.com",
			"nonce": nonce, "groups": []string{"oncall"}})
	}
	proof := &Proof{Method: MethodOIDC, Statement: st, IDToken: mint(NonceOf(st))}
	id, err := v.Verify(proof, claim, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Identify(proof); !reflect.DeepEqual(got, id) {
		t.Errorf("Identify = %+v, Verify = %+v", got, id)
	}
	if id.Name != "carol@example.com" || id.Method != MethodOIDC || strings.Join(id.Groups, ",") != "oncall" {
		t.Errorf("identity %+v, want carol@example.com by oidc in oncall", id)
	}
	// A token bound to another statement (another gate) proves nothing here.
	otherStmt := NewStatement(Claim{Action: ActionApprove, Workflow: claim.Workflow, Run: claim.Run, Target: "qa"}, "", now)
	_, err = v.Verify(&Proof{Method: MethodOIDC, Statement: st, IDToken: mint(NonceOf(otherStmt))}, claim, now)
	if err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("token for another statement = %v, want a nonce refusal", err)
	}
	// The statement may not name someone other than the token's owner.
	named := NewStatement(claim, "alice", now)
	_, err = v.Verify(&Proof{Method: MethodOIDC, Statement: named, IDToken: mint(NonceOf(named))}, claim, now)
	if err == nil || !strings.Contains(err.Error(), "not alice's") {
		t.Errorf("token of carol for a statement naming alice = %v, want refused", err)
	}
}

func TestLoadReadsAndChecksTheFiles(t *testing.T) {
	p := newPeople(t)
	dir := t.TempDir()
	signers := filepath.Join(dir, "allowed_signers")
	groups := filepath.Join(dir, "groups.yaml")
	write(t, signers, p.roots.AllowedSigners)
	write(t, groups, "sre: [bob, bob]\ncab: [alice]\n")
	iss := oidcissuer.Start(t)
	cfg := Config{AllowedSignersFile: signers, GroupsFile: groups,
		OIDCIssuer: iss.URL(), OIDCAudience: "runbook", OIDCJWKS: iss.JWKSURL()}
	r, err := Load(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r.Groups["sre"], ",") != "bob" || r.OIDC == nil || r.Digest == "" {
		t.Errorf("roots %+v: want sre=[bob] deduplicated, the issuer's JWKS and a digest", r)
	}
	again, err := Load(context.Background(), cfg)
	if err != nil || again.Digest != r.Digest {
		t.Errorf("second load digest %q (%v), want the same %q", again.Digest, err, r.Digest)
	}
	if got := strings.Join(r.Methods(), ","); got != "ssh,oidc" {
		t.Errorf("methods %q, want ssh,oidc", got)
	}

	write(t, signers, "alice ssh-ed25519 not-base64\n")
	if _, err := Load(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "allowed_signers:1") {
		t.Errorf("bad allowed signers: %v, want an error naming allowed_signers:1", err)
	}
	write(t, signers, p.roots.AllowedSigners)
	write(t, groups, "release managers: [alice]\n")
	if _, err := Load(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "one word") {
		t.Errorf("bad group name: %v, want refused", err)
	}
	write(t, groups, "sre: [bob]\n")
	cfg.OIDCJWKS = "http://203.0.113.9/jwks"
	if _, err := Load(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "use https") {
		t.Errorf("plain http JWKS off loopback: %v, want refused", err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSignerFromEnv(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	write(t, keyFile, string(pem.EncodeToMemory(block)))
	env := map[string]string{"RUNBOOK_SIGNING_KEY": keyFile, "RUNBOOK_SIGNER": "alice@example.com"}
	s, err := SignerFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Sign(context.Background(), claim, "display-name")
	if err != nil || p.Statement.Signer != "alice@example.com" {
		t.Fatalf("Sign = %+v, %v; want signed as RUNBOOK_SIGNER", p, err)
	}
	if s, err := SignerFromEnv(func(string) string { return "" }); s != nil || err != nil {
		t.Errorf("no signing configuration = %v, %v; want nil (unsigned)", s, err)
	}
	nonceFile := filepath.Join(dir, "nonce")
	o := OIDCSigner{Command: `printf %s "$RUNBOOK_OIDC_NONCE" > ` + nonceFile + `; echo aaa.bbb.ccc`}
	p, err = o.Sign(context.Background(), claim, "")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(nonceFile)
	if string(got) != NonceOf(p.Statement) || p.IDToken != "aaa.bbb.ccc" {
		t.Errorf("token command saw nonce %q, want %q; token %q", got, NonceOf(p.Statement), p.IDToken)
	}
}
