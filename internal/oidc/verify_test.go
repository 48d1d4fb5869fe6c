package oidc

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/oidcissuer"
)

func TestVerifyRoundTripEveryAlg(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			tok := f.mint(t, nil, oidcissuer.WithAlg(alg))
			c, err := Verify(tok, f.keys, f.expect())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Claims{
				Issuer: f.iss.URL(), Subject: "user-1", Identity: testEmail, Groups: []string{"deployers", "sre"},
				IssuedAt: f.now.UTC(), Expiry: f.now.Add(5 * time.Minute).UTC(), KeyID: f.iss.KeyID(alg),
			}
			if !claimsEqual(c, want) {
				t.Fatalf("Verify claims = %+v, want %+v", c, want)
			}
		})
	}
}

func claimsEqual(a, b Claims) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.Identity == b.Identity &&
		slices.Equal(a.Groups, b.Groups) && a.IssuedAt.Equal(b.IssuedAt) && a.Expiry.Equal(b.Expiry) && a.KeyID == b.KeyID
}

// TestVerifyWithJWKSFetchedOverHTTP does what the worker's trust-roots loader
// will: discovery document, then jwks_uri, then ParseJWKS, then Verify.
func TestVerifyWithJWKSFetchedOverHTTP(t *testing.T) {
	iss := oidcissuer.Start(t)
	client := &http.Client{Timeout: 10 * time.Second}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(httpGet(t, client, iss.URL()+"/.well-known/openid-configuration"), &disc); err != nil {
		t.Fatalf("discovery document: %v", err)
	}
	if disc.Issuer != iss.URL() || disc.JWKSURI != iss.JWKSURL() {
		t.Fatalf("discovery = %+v, want issuer %s and jwks_uri %s", disc, iss.URL(), iss.JWKSURL())
	}
	keys, err := ParseJWKS(httpGet(t, client, disc.JWKSURI))
	if err != nil {
		t.Fatalf("ParseJWKS(fetched): %v", err)
	}
	now := time.Now()
	want := Expect{Issuer: disc.Issuer, Audience: testAudience, Nonce: NonceFor(statement), Now: now, MaxAge: time.Minute}
	tok := iss.Mint(t, map[string]any{"sub": "u-9", "aud": testAudience, "email": "bo@example.com", "nonce": want.Nonce},
		oidcissuer.WithAlg("EdDSA"), oidcissuer.WithNow(now))
	c, err := Verify(tok, keys, want)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Identity != "bo@example.com" || c.KeyID != iss.KeyID("EdDSA") {
		t.Fatalf("claims = %+v, want identity bo@example.com, kid %s", c, iss.KeyID("EdDSA"))
	}

	// After a rotation the refetched JWKS no longer holds the old key.
	iss.Rotate(t)
	keys, err = ParseJWKS(httpGet(t, client, disc.JWKSURI))
	if err != nil {
		t.Fatalf("ParseJWKS(fetched after rotation): %v", err)
	}
	_, err = Verify(tok, keys, want)
	wantRefused(t, err, ErrKey, "not in the JWKS")
}

func httpGet(t *testing.T, client *http.Client, url string) []byte {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, read error %v", url, resp.StatusCode, err)
	}
	return body
}

func TestVerifyRefusesKeyRotatedAway(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, nil)
	if _, err := Verify(tok, f.keys, f.expect()); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	oldKid := f.iss.KeyID("RS256")
	f.iss.Rotate(t)
	f.reload(t)
	_, err := Verify(tok, f.keys, f.expect())
	wantRefused(t, err, ErrKey, oldKid, f.iss.KeyID("RS256"))
	// A token minted after the rotation verifies with the new set.
	if _, err := Verify(f.mint(t, nil), f.keys, f.expect()); err != nil {
		t.Fatalf("Verify after rotation: %v", err)
	}
}

func TestVerifyRefusesTamperedPayload(t *testing.T) {
	f := newFixture(t)
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			tok := f.mint(t, map[string]any{"email": "mallory@example.com"}, oidcissuer.WithAlg(alg))
			parts := strings.Split(tok, ".")
			forged := strings.Replace(string(mustDecode(t, parts[1])), "mallory@", "ada@", 1)
			tampered := parts[0] + "." + b64.EncodeToString([]byte(forged)) + "." + parts[2]
			_, err := Verify(tampered, f.keys, f.expect())
			wantRefused(t, err, ErrSignature, "does not verify", f.iss.KeyID(alg))
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// TestVerifyRefusesHMACWithPublicKey is the classic alg confusion: the
// attacker signs HS256 with the issuer's public key as the HMAC secret and
// names the RSA kid, hoping the verifier feeds the key bytes to HMAC.
func TestVerifyRefusesHMACWithPublicKey(t *testing.T) {
	f := newFixture(t)
	pub := f.iss.RSAPublicKey()
	secrets := map[string][]byte{"jwks": f.iss.JWKS(), "modulus": pub.N.Bytes(), "pem": pemOf(t, pub)}
	for name, secret := range secrets {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			t.Run(name+"/"+alg, func(t *testing.T) {
				tok := f.mint(t, nil, oidcissuer.WithAlg(alg), oidcissuer.WithHMAC(secret), oidcissuer.WithKid(f.iss.KeyID("RS256")))
				_, err := Verify(tok, f.keys, f.expect())
				wantRefused(t, err, ErrAlg, `"`+alg+`"`)
			})
		}
	}
}

func TestVerifyRefusesAlgNone(t *testing.T) {
	f := newFixture(t)
	for _, kid := range []string{"", f.iss.KeyID("RS256")} {
		for _, alg := range []string{"none", "None", "NONE"} {
			tok := f.mint(t, nil, oidcissuer.WithAlg(alg), oidcissuer.WithKid(kid))
			if !strings.HasSuffix(tok, ".") {
				t.Fatalf("alg %s token has a signature part", alg)
			}
			_, err := Verify(tok, f.keys, f.expect())
			wantRefused(t, err, ErrAlg, `"`+alg+`"`)
		}
	}
}

// TestVerifyRefusesAlgNotFittingKey: a valid ES256 signature under the RSA
// key's kid, and RS256 under the EC key's kid, are refused before any crypto.
func TestVerifyRefusesAlgNotFittingKey(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ alg, kidOf string }{{"ES256", "RS256"}, {"EdDSA", "ES256"}, {"ES384", "ES256"}, {"RS256", "EdDSA"}}
	for _, c := range cases {
		tok := f.mint(t, nil, oidcissuer.WithAlg(c.alg), oidcissuer.WithKid(f.iss.KeyID(c.kidOf)))
		_, err := Verify(tok, f.keys, f.expect())
		wantRefused(t, err, ErrAlg, c.alg, f.iss.KeyID(c.kidOf))
	}
}

func TestVerifyRefusesForeignKey(t *testing.T) {
	f := newFixture(t)
	for _, family := range []string{"RSA", "EdDSA", "ES256"} {
		alg := map[string]string{"RSA": "RS256", "EdDSA": "EdDSA", "ES256": "ES256"}[family]
		t.Run(alg, func(t *testing.T) {
			foreign, err := oidcissuer.NewKey(family)
			if err != nil {
				t.Fatal(err)
			}
			tok := f.mint(t, nil, oidcissuer.WithAlg(alg), oidcissuer.WithKey(foreign))
			_, err = Verify(tok, f.keys, f.expect())
			wantRefused(t, err, ErrSignature, f.iss.KeyID(alg))
		})
	}
}

// TestVerifyRefusesPSSWithOtherSalt: RFC 7518 fixes PS256's salt at the hash
// size; a signature with another salt length is not a PS256 signature.
func TestVerifyRefusesPSSWithOtherSalt(t *testing.T) {
	f := newFixture(t)
	_, err := Verify(f.mint(t, nil, oidcissuer.WithAlg("PS256"), oidcissuer.WithPSSSalt(20)), f.keys, f.expect())
	wantRefused(t, err, ErrSignature, "PS256")
}

func TestVerifyKeySelection(t *testing.T) {
	f := newFixture(t)
	_, err := Verify(f.mint(t, nil, oidcissuer.WithKid("no-such-kid")), f.keys, f.expect())
	wantRefused(t, err, ErrKey, `"no-such-kid"`, f.iss.KeyID("RS256"))

	_, err = Verify(f.mint(t, nil, oidcissuer.WithKid("")), f.keys, f.expect())
	wantRefused(t, err, ErrKey, "no kid", "4 keys")

	// With a single key in the set, a token without kid uses it.
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(f.iss.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	one, err := ParseJWKS([]byte(`{"keys":[` + string(doc.Keys[0]) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(f.mint(t, nil, oidcissuer.WithKid("")), one, f.expect())
	if err != nil || c.KeyID != f.iss.KeyID("RS256") {
		t.Fatalf("Verify without kid against one key = %+v, %v", c, err)
	}
}
