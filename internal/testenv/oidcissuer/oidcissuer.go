// Package oidcissuer runs a real OIDC issuer for tests: an HTTP server on
// 127.0.0.1 serving /.well-known/openid-configuration and /jwks, holding
// RSA-2048, Ed25519, EC P-256 and EC P-384 signing keys, minting ID tokens
// with them and rotating them.
//
//	iss := oidcissuer.Start(t)
//	tok := iss.Mint(t, map[string]any{"aud": "runbook", "sub": "u1", "email": "a@example.com", "nonce": n})
//	// fetch iss.JWKSURL() (or read iss.JWKS()) and verify tok
//
// It signs and encodes on its own, without package oidc, so the verifier's
// tests check it against an independent implementation. Options such as
// WithAlg("none"), WithHMAC or WithKey (a foreign key) mint the bad tokens
// negative tests need. MintURL serves a profile's tokens over HTTP, for a
// process under test that asks for a token for a nonce of its own.
package oidcissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Issuer is a running OIDC issuer. Its methods are safe for concurrent use.
type Issuer struct {
	srv *httptest.Server

	mu         sync.Mutex
	generation int
	keys       map[string]*signingKey // by the alg family: "RSA", "EdDSA", "ES256", "ES384"
	profiles   map[string]Profile     // the mint endpoint's, by name (MintURL)
}

// signingKey is one private key with the kid it is published under.
type signingKey struct {
	kid    string
	signer crypto.Signer
}

// Start starts an issuer on 127.0.0.1 and a free port; it stops when t ends.
func Start(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{}
	i.Rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	mux.HandleFunc("GET /jwks", i.serveJWKS)
	mux.HandleFunc("GET /mint/{name}", i.serveMint)
	// httptest.NewServer listens on 127.0.0.1 (never all interfaces).
	i.srv = httptest.NewServer(mux)
	t.Cleanup(i.srv.Close)
	return i
}

// URL is the issuer URL, the "iss" of its tokens.
func (i *Issuer) URL() string { return i.srv.URL }

// JWKSURL is where the issuer serves its JWKS.
func (i *Issuer) JWKSURL() string { return i.srv.URL + "/jwks" }

// JWKS is the current JWKS document: the public halves of the current keys.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	for _, family := range families {
		doc.Keys = append(doc.Keys, publicJWK(i.keys[family]))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return b
}

// Rotate replaces every key with a new one under a new kid; the old keys
// leave the JWKS, so tokens they signed stop verifying.
func (i *Issuer) Rotate(t testing.TB) {
	t.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.generation++
	keys := map[string]*signingKey{}
	for _, family := range families {
		signer, err := NewKey(family)
		if err != nil {
			t.Fatalf("oidcissuer: new %s key: %v", family, err)
		}
		keys[family] = &signingKey{kid: fmt.Sprintf("%s-%d", family, i.generation), signer: signer}
	}
	i.keys = keys
}

// KeyID is the kid of the current key that signs alg (for example "RSA-2" for RS256).
func (i *Issuer) KeyID(alg string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if k := i.keys[familyOf(alg)]; k != nil {
		return k.kid
	}
	return ""
}

// RSAPublicKey is the current RSA public key, for key-confusion tests.
func (i *Issuer) RSAPublicKey() *rsa.PublicKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys["RSA"].signer.Public().(*rsa.PublicKey)
}

// families are the key kinds an issuer holds, in JWKS order.
var families = []string{"RSA", "EdDSA", "ES256", "ES384"}

// familyOf maps a JWS alg to the key family that signs it.
func familyOf(alg string) string {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return "RSA"
	case "EdDSA", "ES256", "ES384":
		return alg
	}
	return ""
}

// NewKey makes a fresh private key of a family ("RSA" is 2048 bits, "EdDSA",
// "ES256", "ES384"); tests use it for foreign keys with WithKey.
func NewKey(family string) (crypto.Signer, error) {
	switch family {
	case "RSA":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("oidcissuer: unknown key family %q", family)
}

// publicJWK encodes the public half of k as a JWK (RFC 7517, 7518, 8037).
func publicJWK(k *signingKey) map[string]string {
	j := map[string]string{"kid": k.kid, "use": "sig"}
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		// No "alg": one RSA key signs RS256, RS384, RS512 and PS256 here.
		j["kty"], j["n"], j["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case ed25519.PublicKey:
		j["kty"], j["crv"], j["alg"], j["x"] = "OKP", "Ed25519", "EdDSA", b64(pub)
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		point, err := pub.Bytes() // 0x04 || x || y, each padded to size
		if err != nil {
			panic(err) // a generated key is always valid
		}
		j["kty"], j["crv"] = "EC", pub.Curve.Params().Name
		j["alg"] = map[int]string{32: "ES256", 48: "ES384"}[size]
		j["x"], j["y"] = b64(point[1:1+size]), b64(point[1+size:])
	}
	return j
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.JWKSURL(),
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(i.JWKS())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
