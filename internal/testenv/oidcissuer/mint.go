package oidcissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"strings"
	"testing"
	"time"
)

// DefaultLifetime is how long a minted token lives when the claims set no "exp".
const DefaultLifetime = 5 * time.Minute

// MintOption changes how Mint builds or signs a token.
type MintOption func(*minting)

type minting struct {
	alg    string
	kid    *string // nil: the issuer's kid for the key family
	signer crypto.Signer
	secret []byte
	header map[string]any
	now    time.Time
	salt   int // PSS salt length; 0 is the hash size RFC 7518 requires
}

// WithAlg signs with alg: RS256, RS384, RS512, PS256 (the RSA-2048 key),
// ES256, ES384, EdDSA, or the refused "none" in any case (empty signature) and HS256,
// HS384, HS512 (with the WithHMAC secret).
func WithAlg(alg string) MintOption { return func(m *minting) { m.alg = alg } }

// WithKid puts kid in the header instead of the signing key's; "" leaves kid out.
func WithKid(kid string) MintOption { return func(m *minting) { m.kid = &kid } }

// WithKey signs with a foreign key (see NewKey) while the header still names
// the issuer's kid, as a forger would.
func WithKey(k crypto.Signer) MintOption { return func(m *minting) { m.signer = k } }

// WithHMAC signs with HMAC keyed by secret, alg HS256 unless WithAlg says
// HS384 or HS512: the alg-confusion attack uses the issuer's public key here.
func WithHMAC(secret []byte) MintOption {
	return func(m *minting) {
		m.secret = secret
		if m.alg == "" || familyOf(m.alg) != "" {
			m.alg = "HS256"
		}
	}
}

// WithHeader sets a header parameter (for example "typ" or "crit"); a nil
// value removes it.
func WithHeader(name string, value any) MintOption {
	return func(m *minting) { m.header[name] = value }
}

// WithPSSSalt signs PS256 with a salt of n bytes instead of the hash size
// RFC 7518 section 3.5 requires, for negative tests.
func WithPSSSalt(n int) MintOption { return func(m *minting) { m.salt = n } }

// WithNow sets the time the default "iat" and "exp" count from.
func WithNow(now time.Time) MintOption { return func(m *minting) { m.now = now } }

// Mint signs claims as a compact JWS ID token with the issuer's current key
// for the alg (default RS256). It fills "iss" (the issuer URL), "iat" (now)
// and "exp" (now + DefaultLifetime) unless claims set them; a claim set to
// nil is left out, so {"exp": nil} mints a token without exp.
func (i *Issuer) Mint(t testing.TB, c map[string]any, opts ...MintOption) string {
	t.Helper()
	tok, err := i.mint(c, opts...)
	if err != nil {
		t.Fatalf("oidcissuer: %v", err)
	}
	return tok
}

// mint is Mint without a test: the mint endpoint calls it from a server
// goroutine, where a test may not fail.
func (i *Issuer) mint(c map[string]any, opts ...MintOption) (string, error) {
	m := &minting{alg: "RS256", header: map[string]any{"typ": "JWT"}, now: time.Now()}
	for _, o := range opts {
		o(m)
	}
	claims := map[string]any{"iss": i.URL(), "iat": m.now.Unix(), "exp": m.now.Add(DefaultLifetime).Unix()}
	maps.Copy(claims, c)
	maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil })

	i.mu.Lock()
	own := i.keys[familyOf(m.alg)]
	i.mu.Unlock()
	m.header["alg"] = m.alg
	switch {
	case m.kid != nil && *m.kid != "":
		m.header["kid"] = *m.kid
	case m.kid == nil && own != nil:
		m.header["kid"] = own.kid
	}
	if m.signer == nil && own != nil {
		m.signer = own.signer
	}
	maps.DeleteFunc(m.header, func(_ string, v any) bool { return v == nil })

	header, err := encodeJSON(m.header)
	if err != nil {
		return "", err
	}
	payload, err := encodeJSON(claims)
	if err != nil {
		return "", err
	}
	input := header + "." + payload
	sig, err := m.sign(input)
	if err != nil {
		return "", fmt.Errorf("mint %s: %w", m.alg, err)
	}
	return input + "." + b64(sig), nil
}

func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %v: %w", v, err)
	}
	return b64(b), nil
}

// sign makes the JWS signature over input (RFC 7518 section 3).
func (m *minting) sign(input string) ([]byte, error) {
	if strings.EqualFold(m.alg, "none") {
		return nil, nil // any spelling, to probe case-insensitive verifiers
	}
	switch m.alg {
	case "HS256", "HS384", "HS512":
		mac := hmac.New(hmacHash(m.alg), m.secret)
		mac.Write([]byte(input))
		return mac.Sum(nil), nil
	}
	if m.signer == nil {
		return nil, fmt.Errorf("no key signs alg %q", m.alg)
	}
	switch priv := m.signer.(type) {
	case *rsa.PrivateKey:
		return signRSA(priv, m.alg, input, m.salt)
	case *ecdsa.PrivateKey:
		return signEC(priv, m.alg, input)
	case ed25519.PrivateKey:
		if m.alg != "EdDSA" {
			return nil, fmt.Errorf("an Ed25519 key cannot sign %s", m.alg)
		}
		return ed25519.Sign(priv, []byte(input)), nil
	}
	return nil, fmt.Errorf("key type %T is not supported", m.signer)
}

func signRSA(priv *rsa.PrivateKey, alg, input string, salt int) ([]byte, error) {
	h := map[string]crypto.Hash{"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
		"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512}[alg]
	if h == 0 {
		return nil, fmt.Errorf("an RSA key cannot sign %s", alg)
	}
	d := h.New()
	d.Write([]byte(input))
	if alg[0] == 'P' {
		if salt == 0 {
			salt = rsa.PSSSaltLengthEqualsHash
		}
		return rsa.SignPSS(rand.Reader, priv, h, d.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
	}
	return rsa.SignPKCS1v15(nil, priv, h, d.Sum(nil))
}

// signEC signs with ECDSA and encodes r||s at the curve size, as JWS wants
// (not the ASN.1 that crypto.Signer returns).
func signEC(priv *ecdsa.PrivateKey, alg, input string) ([]byte, error) {
	size := (priv.Curve.Params().BitSize + 7) / 8
	var digest []byte
	switch {
	case alg == "ES256" && size == 32:
		s := sha256.Sum256([]byte(input))
		digest = s[:]
	case alg == "ES384" && size == 48:
		s := sha512.Sum384([]byte(input))
		digest = s[:]
	default:
		return nil, fmt.Errorf("an EC %s key cannot sign %s", priv.Curve.Params().Name, alg)
	}
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}

func hmacHash(alg string) func() hash.Hash {
	switch alg {
	case "HS384":
		return sha512.New384
	case "HS512":
		return sha512.New
	}
	return sha256.New
}
