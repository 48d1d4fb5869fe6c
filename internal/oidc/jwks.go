// Package oidc verifies OpenID Connect ID tokens (compact JWS) against a JWKS
// the worker holds as a trust root.
//
// A decision (approve, reject...) may carry an ID token instead of an SSH
// signature. The token's "nonce" claim is NonceFor(statement), so a token binds
// to exactly one decision statement and cannot be replayed onto another gate.
//
// Verification runs inside Temporal Update validators, so everything here is
// pure computation: the time comes in through Expect.Now, and nothing reads a
// clock, a file or the network, draws randomness or starts a goroutine.
// Fetching the JWKS is the caller's job (the worker's trust-roots loader);
// ParseJWKS only parses the bytes it is given.
package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// RSA moduli outside these bounds are refused: below 2048 bits is weak, above
// 8192 bits only costs verification time (a JWKS is configuration, but a cheap
// bound keeps a validator's worst case small).
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// maxJWKSBytes bounds the document ParseJWKS accepts; real JWKS are a few KiB.
const maxJWKSBytes = 1 << 20

// b64 is strict base64url without padding (RFC 7515 section 2): a second
// spelling of the same bytes is refused rather than silently accepted.
var b64 = base64.RawURLEncoding.Strict()

// KeySet is a parsed JWKS: the signature keys a token may be verified with.
// It is immutable after ParseJWKS and safe for concurrent use.
type KeySet struct {
	keys []*key
}

// key is one usable verification key.
type key struct {
	kid string
	alg string // the JWK's "alg" when it names one; the token's alg must then match
	pub crypto.PublicKey
}

// jwk is the JSON shape of one key; fields not used for verification are ignored.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Kid    string   `json:"kid"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// ParseJWKS parses a JWKS document ({"keys":[...]}): RSA (n,e; >= 2048 bits), EC (P-256,
// P-384), OKP Ed25519. Keys with "use":"enc" are skipped; a key with an unsupported kty/crv is
// skipped; no usable key at all, bad base64url or a duplicate kid is an error.
//
// Keys whose "key_ops" leave out "verify" are skipped too. A supported key that
// is malformed (a point off the curve, a short RSA modulus) is an error: a
// trust root that is quietly half-read is worse than one that is refused.
func ParseJWKS(doc []byte) (*KeySet, error) {
	if len(doc) > maxJWKSBytes {
		return nil, fmt.Errorf("oidc: JWKS is %d bytes, more than the %d allowed", len(doc), maxJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("oidc: JWKS is not a JSON object with \"keys\": %w", err)
	}
	ks := &KeySet{}
	seen := map[string]int{}
	for i, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("oidc: JWKS key %d: %w", i, err)
		}
		if !forSignatures(j) {
			continue
		}
		pub, err := j.publicKey()
		if err != nil {
			return nil, fmt.Errorf("oidc: JWKS key %d (kid %q): %w", i, j.Kid, err)
		}
		if pub == nil {
			continue // unsupported kty or crv
		}
		if j.Kid != "" {
			if first, dup := seen[j.Kid]; dup {
				return nil, fmt.Errorf("oidc: JWKS keys %d and %d share kid %q", first, i, j.Kid)
			}
			seen[j.Kid] = i
		}
		ks.keys = append(ks.keys, &key{kid: j.Kid, alg: j.Alg, pub: pub})
	}
	if len(ks.keys) == 0 {
		return nil, fmt.Errorf("oidc: JWKS has no usable signature key (%d keys listed)", len(set.Keys))
	}
	return ks, nil
}

// KeyIDs lists the key IDs of the usable keys, in document order; a key
// without a kid appears as "".
func (ks *KeySet) KeyIDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = k.kid
	}
	return ids
}

// forSignatures reports whether the JWK may verify signatures at all.
func forSignatures(j jwk) bool {
	if j.Use != "" && j.Use != "sig" {
		return false
	}
	return j.KeyOps == nil || slices.Contains(j.KeyOps, "verify")
}

// publicKey decodes the JWK; nil, nil means a type this package does not support.
func (j jwk) publicKey() (crypto.PublicKey, error) {
	switch j.Kty {
	case "RSA":
		return j.rsaKey()
	case "EC":
		switch j.Crv {
		case "P-256":
			return j.ecKey(elliptic.P256())
		case "P-384":
			return j.ecKey(elliptic.P384())
		}
	case "OKP":
		if j.Crv == "Ed25519" {
			return j.edKey()
		}
	}
	return nil, nil
}

func (j jwk) rsaKey() (crypto.PublicKey, error) {
	nb, err := decodeField("n", j.N)
	if err != nil {
		return nil, err
	}
	eb, err := decodeField("e", j.E)
	if err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(nb)
	if bits := n.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus has %d bits, want %d to %d", bits, minRSABits, maxRSABits)
	}
	if n.Bit(0) == 0 {
		return nil, fmt.Errorf("RSA modulus is even")
	}
	if len(eb) > 4 {
		return nil, fmt.Errorf("RSA exponent is %d bytes long", len(eb))
	}
	e := 0
	for _, b := range eb {
		e = e<<8 | int(b)
	}
	if e < 3 || e%2 == 0 || e > 1<<31-1 {
		return nil, fmt.Errorf("RSA exponent %d is not an odd number from 3 to 2^31-1", e)
	}
	return &rsa.PublicKey{N: n, E: e}, nil
}

func (j jwk) ecKey(curve elliptic.Curve) (crypto.PublicKey, error) {
	size := (curve.Params().BitSize + 7) / 8
	x, err := decodeField("x", j.X)
	if err != nil {
		return nil, err
	}
	y, err := decodeField("y", j.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("EC %s coordinates are %d and %d bytes, want %d each", j.Crv, len(x), len(y), size)
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("EC %s point: %w", j.Crv, err)
	}
	return pub, nil
}

func (j jwk) edKey() (crypto.PublicKey, error) {
	x, err := decodeField("x", j.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the Ed25519 key is %d bytes, want %d", len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

// decodeField decodes a required base64url member of a JWK.
func decodeField(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("member %q is missing", name)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("member %q is not base64url without padding: %w", name, err)
	}
	return b, nil
}

// lookup picks the key for a token: the one with its kid, or the only key
// when the token names none.
func (ks *KeySet) lookup(kid string) (*key, error) {
	if kid == "" {
		if len(ks.keys) == 1 {
			return ks.keys[0], nil
		}
		return nil, fmt.Errorf("%w: token has no kid and the JWKS has %d keys", ErrKey, len(ks.keys))
	}
	for _, k := range ks.keys {
		if k.kid == kid {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: token kid %s is not in the JWKS (kids: %s)", ErrKey, quote(kid), strings.Join(quoteAll(ks.KeyIDs()), ", "))
}
