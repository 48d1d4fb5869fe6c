package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

// issuerKeys returns the issuer's JWKS entries as maps, to build variants from.
func issuerKeys(t *testing.T, iss *oidcissuer.Issuer) []map[string]any {
	t.Helper()
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Keys
}

func jwksOf(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func with(k map[string]any, changes map[string]any) map[string]any {
	out := map[string]any{}
	for n, v := range k {
		out[n] = v
	}
	for n, v := range changes {
		if v == nil {
			delete(out, n)
		} else {
			out[n] = v
		}
	}
	return out
}

func TestParseJWKSSkipsWhatItCannotUse(t *testing.T) {
	iss := oidcissuer.Start(t)
	keys := issuerKeys(t, iss) // RSA, EdDSA, ES256, ES384
	rsaKey, edKey := keys[0], keys[1]
	doc := jwksOf(t,
		with(rsaKey, map[string]any{"kid": "enc-key", "use": "enc"}),
		with(rsaKey, map[string]any{"kid": "wrap-only", "key_ops": []string{"wrapKey"}}),
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		map[string]any{"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
		map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "AA"},
		edKey,
		with(rsaKey, map[string]any{"key_ops": []string{"verify"}}),
	)
	ks, err := ParseJWKS(doc)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if got, want := ks.KeyIDs(), []string{iss.KeyID("EdDSA"), iss.KeyID("RS256")}; !slices.Equal(got, want) {
		t.Fatalf("KeyIDs = %q, want %q", got, want)
	}
}

func TestParseJWKSRefuses(t *testing.T) {
	iss := oidcissuer.Start(t)
	keys := issuerKeys(t, iss)
	rsaKey, edKey, ecKey := keys[0], keys[1], keys[2]
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// A point off the curve: the real x with y+1.
	y := new(big.Int).SetBytes(mustDecode(t, ecKey["y"].(string)))
	offCurve := b64.EncodeToString(y.Add(y, big.NewInt(1)).FillBytes(make([]byte, 32)))
	cases := []struct {
		name, fragment string
		doc            []byte
	}{
		{"not JSON", "not a JSON object", []byte("keys")},
		{"no keys", "no usable signature key", []byte(`{"keys":[]}`)},
		{"only enc keys", "no usable signature key (1 keys", jwksOf(t, with(rsaKey, map[string]any{"use": "enc"}))},
		{"duplicate kid", "share kid", jwksOf(t, rsaKey, with(edKey, map[string]any{"kid": rsaKey["kid"]}))},
		{"padded base64url", "base64url", jwksOf(t, with(edKey, map[string]any{"x": edKey["x"].(string) + "="}))},
		{"std base64", "base64url", jwksOf(t, with(rsaKey, map[string]any{"n": strings.NewReplacer("-", "+", "_", "/").Replace(rsaKey["n"].(string)) + "+/"}))},
		{"missing n", `"n" is missing`, jwksOf(t, with(rsaKey, map[string]any{"n": nil}))},
		{"RSA 1024", "1024 bits", jwksOf(t, with(rsaKey, map[string]any{"n": b64.EncodeToString(small.N.Bytes())}))},
		{"RSA e=1", "exponent 1", jwksOf(t, with(rsaKey, map[string]any{"e": "AQ"}))},
		{"EC off curve", "point", jwksOf(t, with(ecKey, map[string]any{"y": offCurve}))},
		{"EC short x", "coordinates", jwksOf(t, with(ecKey, map[string]any{"x": "AAAA"}))},
		{"Ed25519 short", "bytes, want 32", jwksOf(t, with(edKey, map[string]any{"x": "AAAA"}))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseJWKS(c.doc)
			if err == nil || !strings.Contains(err.Error(), c.fragment) {
				t.Fatalf("ParseJWKS error = %v, want one mentioning %q", err, c.fragment)
			}
		})
	}
}

// TestVerifyHonoursJWKAlg: a key whose JWK names an alg verifies only that
// alg; without "alg" the key type still has to fit.
func TestVerifyHonoursJWKAlg(t *testing.T) {
	f := newFixture(t)
	keys := issuerKeys(t, f.iss)
	pinned, err := ParseJWKS(jwksOf(t, with(keys[0], map[string]any{"alg": "RS512"})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(f.mint(t, nil, oidcissuer.WithAlg("RS256")), pinned, f.expect())
	wantRefused(t, err, ErrAlg, `key "`+f.iss.KeyID("RS256")+`" is for "RS512"`)
	if _, err := Verify(f.mint(t, nil, oidcissuer.WithAlg("RS512")), pinned, f.expect()); err != nil {
		t.Fatalf("RS512 with a key pinned to RS512: %v", err)
	}

	var bare []map[string]any
	for _, k := range keys {
		bare = append(bare, with(k, map[string]any{"alg": nil}))
	}
	unpinned, err := ParseJWKS(jwksOf(t, bare...))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(f.mint(t, nil, oidcissuer.WithAlg("ES384"), oidcissuer.WithKid(f.iss.KeyID("ES256"))), unpinned, f.expect())
	wantRefused(t, err, ErrAlg, "does not fit", "EC P-256")
	_, err = Verify(f.mint(t, nil, oidcissuer.WithAlg("EdDSA"), oidcissuer.WithKid(f.iss.KeyID("RS256"))), unpinned, f.expect())
	wantRefused(t, err, ErrAlg, "does not fit", "RSA")
	_, err = Verify(f.mint(t, nil, oidcissuer.WithAlg("ES256"), oidcissuer.WithKid(f.iss.KeyID("EdDSA"))), unpinned, f.expect())
	wantRefused(t, err, ErrAlg, "does not fit", "Ed25519")
}

// TestParseJWKSECKeyRoundTrip checks the EC decoding against the key itself.
func TestParseJWKSECKeyRoundTrip(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, _ := priv.PublicKey.Bytes()
	doc := jwksOf(t, map[string]any{"kty": "EC", "crv": "P-384", "kid": "k",
		"x": b64.EncodeToString(point[1:49]), "y": b64.EncodeToString(point[49:])})
	ks, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !ks.keys[0].pub.(*ecdsa.PublicKey).Equal(&priv.PublicKey) {
		t.Fatal("parsed EC key differs from the generated one")
	}
}
