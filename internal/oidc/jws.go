package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// maxTokenBytes bounds the token Verify looks at: ID tokens are a few KiB, and
// a validator should not decode megabytes an attacker sent.
const maxTokenBytes = 64 << 10

// header is the JOSE header of a token.
type header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Typ  string   `json:"typ"`
	Crit []string `json:"crit"`
}

// jws is a compact JWS split into its parts, with the header and payload decoded.
type jws struct {
	header       header
	payload      []byte
	signingInput string // base64url(header) "." base64url(payload), what was signed
	signature    []byte
}

// parseJWS splits and decodes a compact JWS without checking the signature.
func parseJWS(token string) (*jws, error) {
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token is %d bytes, more than %d", ErrMalformed, len(token), maxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: token has %d dot-separated parts, want 3 (compact JWS)", ErrMalformed, len(parts))
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url: %v", ErrMalformed, err)
	}
	var h header
	if err := strictJSON(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object: %v", ErrMalformed, err)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url: %v", ErrMalformed, err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64url: %v", ErrMalformed, err)
	}
	return &jws{header: h, payload: payload, signingInput: parts[0] + "." + parts[1], signature: sig}, nil
}

// strictJSON decodes one JSON object and refuses trailing data, so a header or
// payload cannot smuggle a second document past the parser.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// checkHeader refuses what this verifier does not understand: critical
// extensions, and a typ other than a plain JWT (an access token "at+jwt" is
// not an ID token).
func checkHeader(h header) error {
	if h.Crit != nil {
		return fmt.Errorf("%w: header lists critical extensions %s, none is supported", ErrMalformed, strings.Join(quoteAll(h.Crit), ", "))
	}
	switch strings.ToLower(h.Typ) {
	case "", "jwt", "application/jwt":
		return nil
	}
	return fmt.Errorf("%w: header typ is %s, want JWT or none", ErrMalformed, quote(h.Typ))
}

// algSpec says which key an alg needs and how it hashes.
type algSpec struct {
	hash  crypto.Hash // 0 for EdDSA, which hashes internally
	curve elliptic.Curve
	pss   bool
}

// algs is the allow list. "none" and the HMAC algs are absent on purpose: a
// JWKS holds public keys, and an HMAC keyed with a public key is forgeable.
var algs = map[string]algSpec{
	"RS256": {hash: crypto.SHA256},
	"RS384": {hash: crypto.SHA384},
	"RS512": {hash: crypto.SHA512},
	"PS256": {hash: crypto.SHA256, pss: true},
	"ES256": {hash: crypto.SHA256, curve: elliptic.P256()},
	"ES384": {hash: crypto.SHA384, curve: elliptic.P384()},
	"EdDSA": {},
}

// allowedAlg refuses an alg outside the allow list, whatever the key.
func allowedAlg(alg string) error {
	if _, ok := algs[alg]; !ok {
		return fmt.Errorf("%w: token alg is %s, want one of RS256, RS384, RS512, PS256, ES256, ES384, EdDSA", ErrAlg, quote(alg))
	}
	return nil
}

// verifySignature checks the JWS signature with k, after checking that the
// token's alg is allowed and fits k.
func verifySignature(t *jws, k *key) error {
	alg := t.header.Alg
	if err := allowedAlg(alg); err != nil {
		return err
	}
	spec := algs[alg]
	if k.alg != "" && k.alg != alg {
		return fmt.Errorf("%w: token alg is %s but key %s is for %s", ErrAlg, quote(alg), quote(k.kid), quote(k.alg))
	}
	digest := func() []byte { return hashOf(spec.hash, t.signingInput) }
	var valid bool
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if spec.curve != nil || spec.hash == 0 {
			return mismatch(alg, k, "RSA")
		}
		if spec.pss {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: spec.hash}
			valid = rsa.VerifyPSS(pub, spec.hash, digest(), t.signature, opts) == nil
		} else {
			valid = rsa.VerifyPKCS1v15(pub, spec.hash, digest(), t.signature) == nil
		}
	case *ecdsa.PublicKey:
		if spec.curve != pub.Curve {
			return mismatch(alg, k, "EC "+pub.Curve.Params().Name)
		}
		valid = verifyECDSA(pub, digest(), t.signature)
	case ed25519.PublicKey:
		if alg != "EdDSA" {
			return mismatch(alg, k, "Ed25519")
		}
		valid = ed25519.Verify(pub, []byte(t.signingInput), t.signature)
	default:
		return fmt.Errorf("%w: key %s has an unsupported type %T", ErrKey, quote(k.kid), k.pub)
	}
	if !valid {
		return fmt.Errorf("%w: %s signature does not verify with key %s", ErrSignature, alg, quote(k.kid))
	}
	return nil
}

func mismatch(alg string, k *key, kind string) error {
	return fmt.Errorf("%w: token alg %s does not fit key %s, which is %s", ErrAlg, alg, quote(k.kid), kind)
}

// verifyECDSA checks a JWS ECDSA signature, which is r||s at the curve's
// size (RFC 7518 section 3.4), not ASN.1.
func verifyECDSA(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	return ecdsa.Verify(pub, digest, r, s)
}

func hashOf(h crypto.Hash, s string) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256([]byte(s))
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384([]byte(s))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(s))
		return d[:]
	}
	return nil
}
