package oidc

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

func pemOf(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestVerifyRefusesClaims: tokens the issuer really signed, each with one
// claim wrong; each must fail that check and say what it had and wanted.
func TestVerifyRefusesClaims(t *testing.T) {
	f := newFixture(t)
	now := f.now
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	cases := []struct {
		name      string
		claims    map[string]any
		expect    func(*Expect)
		opts      []oidcissuer.MintOption
		want      error
		fragments []string
	}{
		{name: "expired", claims: map[string]any{"iat": at(-time.Hour), "exp": at(-2 * time.Minute)}, want: ErrExpired,
			fragments: []string{stamp(now.Add(-2 * time.Minute)), stamp(now)}},
		{name: "expired just past leeway", claims: map[string]any{"exp": at(-time.Minute)}, want: ErrExpired},
		{name: "expired with zero-ish custom leeway", claims: map[string]any{"exp": at(-2 * time.Second)},
			expect: func(e *Expect) { e.Leeway = time.Second }, want: ErrExpired},
		{name: "no exp", claims: map[string]any{"exp": nil}, want: ErrExpired, fragments: []string{`no "exp"`}},
		{name: "exp as string", claims: map[string]any{"exp": "tomorrow"}, want: ErrClaims, fragments: []string{`"exp" is a string`}},
		{name: "not yet valid", claims: map[string]any{"nbf": at(2 * time.Minute)}, want: ErrNotYetValid,
			fragments: []string{"nbf", stamp(now.Add(2 * time.Minute))}},
		{name: "issued in the future", claims: map[string]any{"iat": at(2 * time.Minute)}, want: ErrNotYetValid, fragments: []string{"iat"}},
		{name: "no iat", claims: map[string]any{"iat": nil}, want: ErrClaims, fragments: []string{`no "iat"`}},
		{name: "iat too old", claims: map[string]any{"iat": at(-10 * time.Minute)},
			expect: func(e *Expect) { e.MaxAge = 5 * time.Minute }, want: ErrTooOld, fragments: []string{"10m0s", "max age is 5m0s"}},
		{name: "wrong iss", claims: map[string]any{"iss": "https://evil.example"}, want: ErrIssuer,
			fragments: []string{`"https://evil.example"`, `"` + f.iss.URL() + `"`}},
		{name: "no iss", claims: map[string]any{"iss": nil}, want: ErrIssuer, fragments: []string{`no "iss"`}},
		{name: "wrong aud", claims: map[string]any{"aud": "other-client"}, want: ErrAudience,
			fragments: []string{`"other-client"`, `"` + testAudience + `"`}},
		{name: "wrong aud in array", claims: map[string]any{"aud": []string{"a", "b"}, "azp": testAudience}, want: ErrAudience},
		{name: "no aud", claims: map[string]any{"aud": nil}, want: ErrAudience},
		{name: "several aud without azp", claims: map[string]any{"aud": []string{testAudience, "other"}}, want: ErrAudience,
			fragments: []string{"2 audiences", "azp"}},
		{name: "azp of another client", claims: map[string]any{"aud": []string{testAudience, "other"}, "azp": "other"},
			want: ErrAudience, fragments: []string{`azp is "other"`}},
		{name: "wrong nonce", claims: map[string]any{"nonce": NonceFor([]byte("approve another gate"))}, want: ErrNonce,
			fragments: []string{NonceFor([]byte("approve another gate")), NonceFor(statement), "another statement"}},
		{name: "missing nonce", claims: map[string]any{"nonce": nil}, want: ErrNonce, fragments: []string{`no "nonce"`}},
		{name: "empty nonce", claims: map[string]any{"nonce": ""}, want: ErrNonce, fragments: []string{"empty"}},
		{name: "email_verified false", claims: map[string]any{"email_verified": false}, want: ErrEmailUnverified,
			fragments: []string{testEmail}},
		{name: "email_verified string false", claims: map[string]any{"email_verified": "false"}, want: ErrEmailUnverified},
		{name: "email_verified a number", claims: map[string]any{"email_verified": 0}, want: ErrClaims},
		{name: "no email", claims: map[string]any{"email": nil}, want: ErrIdentity, fragments: []string{`no "email"`}},
		{name: "no sub", claims: map[string]any{"sub": nil}, want: ErrIdentity, fragments: []string{`no "sub"`}},
		{name: "identity claim missing", expect: func(e *Expect) { e.IdentityClaim = "preferred_username" },
			want: ErrIdentity, fragments: []string{"preferred_username"}},
		{name: "groups of numbers", claims: map[string]any{"groups": []int{1}}, want: ErrClaims, fragments: []string{"groups"}},
		{name: "groups an object", claims: map[string]any{"groups": map[string]any{"a": 1}}, want: ErrClaims},
		{name: "typ access token", opts: []oidcissuer.MintOption{oidcissuer.WithHeader("typ", "at+jwt")}, want: ErrMalformed,
			fragments: []string{`"at+jwt"`}},
		{name: "crit header", opts: []oidcissuer.MintOption{oidcissuer.WithHeader("crit", []string{"exp"})}, want: ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := f.expect()
			if c.expect != nil {
				c.expect(&want)
			}
			_, err := Verify(f.mint(t, c.claims, c.opts...), f.keys, want)
			wantRefused(t, err, c.want, c.fragments...)
			if !wrapsOneSentinel(err) {
				t.Errorf("error %v wraps more or less than one sentinel", err)
			}
		})
	}
}

// TestVerifyLeeway: within the leeway exp, nbf and iat pass; the default is a minute.
func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t)
	at := func(d time.Duration) int64 { return f.now.Add(d).Unix() }
	good := []map[string]any{
		{"exp": at(-59 * time.Second)},
		{"nbf": at(59 * time.Second)},
		{"iat": at(59 * time.Second)},
		{"exp": at(time.Second), "nbf": at(0), "iat": at(-time.Hour)}, // MaxAge 0 is no limit
		{"exp": float64(at(time.Minute)) + 0.5},                       // fractional NumericDate
	}
	for _, claims := range good {
		if _, err := Verify(f.mint(t, claims), f.keys, f.expect()); err != nil {
			t.Errorf("claims %v: Verify: %v", claims, err)
		}
	}
	want := f.expect()
	want.MaxAge = 10 * time.Minute
	if _, err := Verify(f.mint(t, map[string]any{"iat": at(-10*time.Minute - 30*time.Second)}), f.keys, want); err != nil {
		t.Errorf("iat 30s past MaxAge, inside leeway: %v", err)
	}
}

func TestVerifyAudienceAndGroupsShapes(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name   string
		claims map[string]any
		groups []string
	}{
		{"groups array", map[string]any{"groups": []string{"a", "b"}}, []string{"a", "b"}},
		{"groups one string", map[string]any{"groups": "admins"}, []string{"admins"}},
		{"no groups", map[string]any{"groups": nil}, nil},
		{"aud array with azp", map[string]any{"aud": []string{"x", testAudience}, "azp": testAudience}, []string{"deployers", "sre"}},
		{"aud array of one", map[string]any{"aud": []string{testAudience}}, []string{"deployers", "sre"}},
		{"email_verified string true", map[string]any{"email_verified": "true"}, []string{"deployers", "sre"}},
		{"email_verified absent", map[string]any{"email_verified": nil}, []string{"deployers", "sre"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Verify(f.mint(t, c.claims), f.keys, f.expect())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !slices.Equal(got.Groups, c.groups) {
				t.Fatalf("Groups = %q, want %q", got.Groups, c.groups)
			}
		})
	}
}

func TestVerifyIdentityAndGroupsClaims(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, map[string]any{"email_verified": false, "preferred_username": "ada", "roles": []string{"ops"}})
	want := f.expect()
	want.IdentityClaim, want.GroupsClaim = "preferred_username", "roles"
	c, err := Verify(tok, f.keys, want)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Identity != "ada" || !slices.Equal(c.Groups, []string{"ops"}) {
		t.Fatalf("claims = %+v, want identity ada, groups [ops]", c)
	}
	want.IdentityClaim = "sub"
	if c, err = Verify(tok, f.keys, want); err != nil || c.Identity != "user-1" {
		t.Fatalf("identity sub: %+v, %v", c, err)
	}
}

func TestVerifyRefusesIncompleteExpect(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, nil)
	for name, change := range map[string]func(*Expect){
		"Issuer":   func(e *Expect) { e.Issuer = "" },
		"Audience": func(e *Expect) { e.Audience = "" },
		"Nonce":    func(e *Expect) { e.Nonce = "" },
		"Now":      func(e *Expect) { e.Now = time.Time{} },
		"Leeway":   func(e *Expect) { e.Leeway = -time.Second },
	} {
		want := f.expect()
		change(&want)
		_, err := Verify(tok, f.keys, want)
		wantRefused(t, err, ErrExpect, name)
	}
	_, err := Verify(tok, nil, f.expect())
	wantRefused(t, err, ErrExpect, "key set")
}

// TestErrorsNeverQuoteToken: whatever fails, no part of the token's encoded
// form (and so never its signature) appears in the error.
func TestErrorsNeverQuoteToken(t *testing.T) {
	f := newFixture(t)
	toks := []string{
		f.mint(t, map[string]any{"aud": "x"}),
		f.mint(t, nil, oidcissuer.WithKid("nope")),
		f.mint(t, nil, oidcissuer.WithAlg("HS256"), oidcissuer.WithHMAC([]byte("k"))),
		f.mint(t, nil) + "x",
		"a.b",
	}
	for _, tok := range toks {
		_, err := Verify(tok, f.keys, f.expect())
		if err == nil {
			t.Fatalf("Verify accepted a bad token")
		}
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 8 && strings.Contains(err.Error(), part) {
				t.Errorf("error %q quotes a token part", err)
			}
		}
	}
}

func TestNonceFor(t *testing.T) {
	// sha256("abc") is ba7816bf...; its base64url without padding:
	if got, want := NonceFor([]byte("abc")), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Fatalf("NonceFor(abc) = %s, want %s", got, want)
	}
	if NonceFor([]byte("a")) == NonceFor([]byte("b")) || strings.ContainsAny(NonceFor(statement), "=+/") {
		t.Fatal("NonceFor is not a padded-free base64url digest of its input")
	}
}
