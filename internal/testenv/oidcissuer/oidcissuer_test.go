package oidcissuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	return body
}

func TestIssuerServesDiscoveryAndJWKS(t *testing.T) {
	iss := Start(t)
	if !strings.HasPrefix(iss.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %s, want one on 127.0.0.1", iss.URL())
	}
	var disc map[string]any
	if err := json.Unmarshal(get(t, iss.URL()+"/.well-known/openid-configuration"), &disc); err != nil {
		t.Fatal(err)
	}
	if disc["issuer"] != iss.URL() || disc["jwks_uri"] != iss.JWKSURL() {
		t.Fatalf("discovery = %v", disc)
	}
	if served := get(t, iss.JWKSURL()); !bytes.Equal(served, iss.JWKS()) {
		t.Fatalf("served JWKS %s differs from JWKS() %s", served, iss.JWKS())
	}
}

func kids(t *testing.T, doc []byte) []string {
	t.Helper()
	var set struct{ Keys []map[string]string }
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k["kid"])
	}
	return out
}

func TestRotateReplacesEveryKey(t *testing.T) {
	iss := Start(t)
	before := kids(t, iss.JWKS())
	want := []string{iss.KeyID("RS256"), iss.KeyID("EdDSA"), iss.KeyID("ES256"), iss.KeyID("ES384")}
	if strings.Join(before, ",") != strings.Join(want, ",") {
		t.Fatalf("JWKS kids = %v, want %v", before, want)
	}
	iss.Rotate(t)
	after := get(t, iss.JWKSURL())
	for _, old := range before {
		if bytes.Contains(after, []byte(`"`+old+`"`)) {
			t.Errorf("kid %s still served after Rotate: %s", old, after)
		}
	}
	if len(kids(t, after)) != 4 {
		t.Fatalf("JWKS after Rotate = %s, want 4 keys", after)
	}
}

func decodePart(t *testing.T, part string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMintFillsDefaultsAndHeader(t *testing.T) {
	iss := Start(t)
	now := time.Unix(1_800_000_000, 0)
	tok := iss.Mint(t, map[string]any{"sub": "u", "iat": nil}, WithAlg("ES256"), WithNow(now), WithHeader("typ", nil))
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	h, c := decodePart(t, parts[0]), decodePart(t, parts[1])
	if h["alg"] != "ES256" || h["kid"] != iss.KeyID("ES256") || h["typ"] != nil {
		t.Fatalf("header = %v", h)
	}
	if c["iss"] != iss.URL() || c["exp"] != float64(now.Add(DefaultLifetime).Unix()) || c["iat"] != nil || c["sub"] != "u" {
		t.Fatalf("claims = %v", c)
	}
	if sig, _ := base64.RawURLEncoding.DecodeString(parts[2]); len(sig) != 64 {
		t.Fatalf("ES256 signature is %d bytes, want r||s of 64", len(sig))
	}
	bare := iss.Mint(t, nil, WithKid(""))
	if h := decodePart(t, bare[:strings.Index(bare, ".")]); h["kid"] != nil || h["alg"] != "RS256" {
		t.Fatalf("WithKid(\"\") header = %v, want RS256 without kid", h)
	}
}
