package oidc

import (
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

// FuzzVerify: Verify never panics, every refusal wraps exactly one sentinel,
// and nothing but an issuer-signed token is accepted.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	valid := map[string]bool{}
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"} {
		tok := fx.mint(f, map[string]any{"groups": "one"}, oidcissuer.WithAlg(alg))
		valid[tok] = true
		f.Add(tok)
	}
	f.Add(fx.mint(f, nil, oidcissuer.WithAlg("none")))
	f.Add(fx.mint(f, nil, oidcissuer.WithHMAC(fx.iss.JWKS())))
	f.Add(fx.mint(f, map[string]any{"exp": 1e300, "aud": []any{1, nil}}))
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", "e30.e30.", "bnVsbA.bnVsbA.AA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Verify(tok, fx.keys, fx.expect())
		if err != nil {
			if !wrapsOneSentinel(err) {
				t.Fatalf("error %v wraps more or less than one sentinel", err)
			}
			return
		}
		if !valid[tok] {
			// A different spelling of a signed token can only differ where
			// the signature does not cover; strict base64 leaves no such place.
			t.Fatalf("Verify accepted a token the issuer did not mint: %+v", c)
		}
	})
}

// FuzzParseJWKS: ParseJWKS never panics, and a set it returns has a key.
func FuzzParseJWKS(f *testing.F) {
	iss := oidcissuer.Start(f)
	f.Add(iss.JWKS())
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":""}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ks, err := ParseJWKS(doc)
		if err == nil && len(ks.KeyIDs()) == 0 {
			t.Fatal("ParseJWKS returned an empty set without error")
		}
		_, _ = Verify("e30.e30.", ks, Expect{Issuer: "i", Audience: "a", Nonce: "n", Now: time.Unix(1, 0)})
	})
}
