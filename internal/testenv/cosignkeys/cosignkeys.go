// Package cosignkeys makes keys and signatures the way cosign does, for
// tests of code that verifies them. Keys are generated per test; nothing
// here is fit to sign anything real.
package cosignkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"
)

// Key algorithms New accepts.
const (
	ECDSAP256 = "ecdsa-p256"
	ECDSAP384 = "ecdsa-p384"
	Ed25519   = "ed25519"
	RSA2048   = "rsa-2048"
)

// Key is a private key and its public half.
type Key struct {
	priv crypto.Signer
}

// New generates a key of the given algorithm or fails the test.
func New(t testing.TB, alg string) *Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case Ed25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case RSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("cosignkeys: unknown algorithm %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{priv: priv}
}

// PublicPEM is the public key as cosign.pub holds it.
func (k *Key) PublicPEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// PrivatePEM is the private key in PKCS#8, for tests that pass the wrong half.
func (k *Key) PrivatePEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// Sign returns the raw signature over msg as cosign makes it: ECDSA (ASN.1)
// and RSA PKCS#1 v1.5 over SHA-256 of msg whatever the key size, Ed25519
// over msg itself.
func (k *Key) Sign(t testing.TB, msg []byte) []byte {
	t.Helper()
	var sig []byte
	var err error
	sum := sha256.Sum256(msg)
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, priv, sum[:])
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(priv, msg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// SignBlob returns what `cosign sign-blob --output-signature` writes: the
// base64 signature.
func (k *Key) SignBlob(t testing.TB, msg []byte) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(k.Sign(t, msg))
}

// Payload is the simple signing payload `cosign sign` signs for an image.
func Payload(t testing.TB, dockerReference, digest string) []byte {
	t.Helper()
	var p struct {
		Critical struct {
			Identity struct {
				DockerReference string `json:"docker-reference"`
			} `json:"identity"`
			Image struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
		Optional map[string]string `json:"optional"`
	}
	p.Critical.Identity.DockerReference = dockerReference
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = "cosign container image signature"
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
