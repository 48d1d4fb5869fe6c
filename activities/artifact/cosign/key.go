// Package cosign verifies signatures made with keys the way `cosign
// sign-blob` and `cosign sign --key` make them, without sigstore's client:
// ECDSA (ASN.1) and RSA PKCS#1 v1.5 over SHA-256 of the message, Ed25519
// over the message itself. Keyless (Fulcio/Rekor) verification is out of
// scope: a release pins a key.
package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Algorithm names reported for a key.
const (
	AlgECDSAP256 = "ecdsa-p256-sha256"
	AlgECDSAP384 = "ecdsa-p384-sha256"
	AlgECDSAP521 = "ecdsa-p521-sha256"
	AlgEd25519   = "ed25519"
	AlgRSA       = "rsa-pkcs1v15-sha256"
)

// MinRSABits is the smallest RSA key accepted: a shorter key's signatures
// would verify yet prove little.
const MinRSABits = 2048

// ErrBadSignature is wrapped by every verification failure.
var ErrBadSignature = errors.New("signature does not verify")

// ErrNeedsMessage is returned by VerifyDigest for keys that sign the
// message itself (Ed25519), where a digest is not enough.
var ErrNeedsMessage = errors.New("this key signs the message, not its digest")

// PublicKey is a parsed verification key.
type PublicKey struct {
	key crypto.PublicKey
	// Algorithm is one of the Alg constants.
	Algorithm string
	// Fingerprint is "sha256:<hex>" of the key's PKIX DER encoding, the
	// bytes inside cosign.pub, so it can be compared with
	// `openssl pkey -pubin -outform der | sha256sum`.
	Fingerprint string
}

// ParsePublicKey reads a PEM public key as `cosign generate-key-pair` writes
// it ("PUBLIC KEY", PKIX); "RSA PUBLIC KEY" (PKCS#1) is accepted too.
func ParsePublicKey(pemText []byte) (*PublicKey, error) {
	block, _ := pem.Decode(pemText)
	if block == nil {
		return nil, errors.New("no PEM block found; pass the contents of cosign.pub (-----BEGIN PUBLIC KEY-----)")
	}
	pub, err := parsePEMBlock(block)
	if err != nil {
		return nil, err
	}
	alg, err := algorithm(pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("re-encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{key: pub, Algorithm: alg, Fingerprint: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

func parsePEMBlock(block *pem.Block) (crypto.PublicKey, error) {
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKIX public key: %w", err)
		}
		return pub, nil
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 RSA public key: %w", err)
		}
		return pub, nil
	case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("PEM block is a %s; pass the public key (cosign.pub), and keep the private key secret", block.Type)
	}
	return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\" as in cosign.pub", block.Type)
}

// algorithm names the scheme for a supported key and refuses the others.
func algorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return AlgECDSAP256, nil
		case elliptic.P384():
			return AlgECDSAP384, nil
		case elliptic.P521():
			return AlgECDSAP521, nil
		}
		return "", fmt.Errorf("ECDSA curve %s is not supported; use P-256 (cosign generate-key-pair)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return AlgEd25519, nil
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return "", fmt.Errorf("RSA key has %d bits, fewer than %d; generate a stronger key", bits, MinRSABits)
		}
		return AlgRSA, nil
	}
	return "", fmt.Errorf("public key type %T is not supported; use ECDSA, Ed25519 or RSA", pub)
}

// SignsDigest reports whether VerifyDigest works for this key, so that the
// caller need not read the message again.
func (k *PublicKey) SignsDigest() bool { return k.Algorithm != AlgEd25519 }

// VerifyDigest checks sig over a message known by its SHA-256 sum. That is
// exactly what cosign checks for ECDSA and RSA keys, which sign the SHA-256
// of a blob whatever the key size.
func (k *PublicKey) VerifyDigest(sum, sig []byte) error {
	if len(sum) != sha256.Size {
		return fmt.Errorf("digest has %d bytes, want a SHA-256 sum", len(sum))
	}
	switch pub := k.key.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum, sig) {
			return ErrBadSignature
		}
		return nil
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum, sig); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil
	}
	return ErrNeedsMessage
}

// VerifyMessage checks sig over msg.
func (k *PublicKey) VerifyMessage(msg, sig []byte) error {
	if pub, ok := k.key.(ed25519.PublicKey); ok {
		if !ed25519.Verify(pub, msg, sig) {
			return ErrBadSignature
		}
		return nil
	}
	sum := sha256.Sum256(msg)
	return k.VerifyDigest(sum[:], sig)
}

// DecodeSignature reads a signature file as cosign does: base64 text (what
// --output-signature writes), else the raw signature bytes.
func DecodeSignature(b []byte) ([]byte, error) {
	text := strings.TrimSpace(string(b))
	if text == "" {
		return nil, errors.New("signature is empty")
	}
	if sig, err := base64.StdEncoding.DecodeString(text); err == nil {
		return sig, nil
	}
	return b, nil
}
