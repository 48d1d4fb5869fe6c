package oidc

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

const (
	testAudience = "runbook-cli"
	testEmail    = "ada@example.com"
)

// statement stands for the decision statement a token is bound to.
var statement = []byte("approve release r-42 gate prod-canary")

// fixture is a running issuer, its parsed JWKS and the Expect a good token meets.
type fixture struct {
	iss  *oidcissuer.Issuer
	keys *KeySet
	now  time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss := oidcissuer.Start(t)
	f := &fixture{iss: iss, now: time.Now().Truncate(time.Second)}
	f.reload(t)
	return f
}

// reload parses the issuer's current JWKS, as the worker does after a fetch.
func (f *fixture) reload(t testing.TB) {
	t.Helper()
	keys, err := ParseJWKS(f.iss.JWKS())
	if err != nil {
		t.Fatalf("ParseJWKS(issuer JWKS): %v", err)
	}
	f.keys = keys
}

func (f *fixture) expect() Expect {
	return Expect{Issuer: f.iss.URL(), Audience: testAudience, Nonce: NonceFor(statement), Now: f.now}
}

// claims are those of a good token, with changes applied (nil removes a claim).
func (f *fixture) claims(changes map[string]any) map[string]any {
	c := map[string]any{
		"sub": "user-1", "aud": testAudience, "email": testEmail, "email_verified": true,
		"nonce": NonceFor(statement), "groups": []string{"deployers", "sre"},
		"iat": f.now.Unix(), "exp": f.now.Add(5 * time.Minute).Unix(),
	}
	maps.Copy(c, changes)
	return c
}

func (f *fixture) mint(t testing.TB, changes map[string]any, opts ...oidcissuer.MintOption) string {
	t.Helper()
	return f.iss.Mint(t, f.claims(changes), opts...)
}

// wantRefused asserts err wraps want and its text mentions each of the
// fragments, so a refusal for the wrong reason fails the test.
func wantRefused(t *testing.T, err, want error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify accepted the token, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify error = %v, want one wrapping %v", err, want)
	}
	for _, fr := range fragments {
		if !strings.Contains(err.Error(), fr) {
			t.Errorf("error %q does not mention %q", err, fr)
		}
	}
}

// sentinels are every error Verify may wrap.
var sentinels = []error{ErrExpect, ErrMalformed, ErrAlg, ErrKey, ErrSignature, ErrClaims, ErrIssuer,
	ErrAudience, ErrExpired, ErrNotYetValid, ErrTooOld, ErrNonce, ErrEmailUnverified, ErrIdentity}

// wrapsOneSentinel reports whether err wraps exactly one of the sentinels.
func wrapsOneSentinel(err error) bool {
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	return n == 1
}
