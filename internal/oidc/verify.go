package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// The checks Verify can fail; every error it returns wraps exactly one of
// these (test with errors.Is), and its text says what the token had and what
// was wanted. Errors never quote the token or its signature.
var (
	ErrExpect          = errors.New("oidc: bad expectation")     // Expect itself is incomplete
	ErrMalformed       = errors.New("oidc: malformed token")     // not a compact JWS, bad header
	ErrAlg             = errors.New("oidc: alg refused")         // alg not allowed or not fitting the key
	ErrKey             = errors.New("oidc: no key")              // kid unknown or ambiguous
	ErrSignature       = errors.New("oidc: bad signature")       // signature does not verify
	ErrClaims          = errors.New("oidc: malformed claims")    // payload not JSON, claim of the wrong type
	ErrIssuer          = errors.New("oidc: wrong issuer")        // iss
	ErrAudience        = errors.New("oidc: wrong audience")      // aud, azp
	ErrExpired         = errors.New("oidc: token expired")       // exp
	ErrNotYetValid     = errors.New("oidc: token not yet valid") // nbf, or iat in the future
	ErrTooOld          = errors.New("oidc: token too old")       // iat older than MaxAge
	ErrNonce           = errors.New("oidc: wrong nonce")         // nonce missing or different
	ErrEmailUnverified = errors.New("oidc: email not verified")  // email_verified is false
	ErrIdentity        = errors.New("oidc: no identity")         // identity claim missing or empty
)

// Expect is what a token must match.
type Expect struct {
	Issuer        string        // exact "iss"
	Audience      string        // must be in "aud" (string or array)
	Nonce         string        // exact "nonce"; required non-empty
	IdentityClaim string        // claim naming the person: "email" (default) or "sub" or any string claim
	GroupsClaim   string        // claim with the groups (default "groups"): array of strings or one string
	Now           time.Time     // the verifier's time
	Leeway        time.Duration // clock skew allowed for exp/nbf/iat (default 1 minute when 0)
	MaxAge        time.Duration // iat must be no older than this (0 = no limit)
}

// DefaultLeeway is the clock skew allowed when Expect.Leeway is 0.
const DefaultLeeway = time.Minute

// Claims is what a verified token says.
type Claims struct {
	Issuer, Subject, Identity string
	Groups                    []string
	IssuedAt, Expiry          time.Time
	KeyID                     string
}

// Verify checks a compact JWS ID token: alg in RS256/RS384/RS512/PS256/ES256/ES384/EdDSA
// (never "none", never HS*; alg must fit the key's type), kid selects the key (or the only
// key when no kid), signature, iss, aud (and azp when aud has several values), exp, nbf, iat,
// nonce, email_verified must not be false when IdentityClaim is "email". Errors say exactly
// which check failed and what the token had vs. what was expected (never print the token).
//
// The signature is checked before any claim is read, so claim errors only ever
// describe tokens the issuer really signed. exp and iat are required (OIDC
// Core 2), as are sub and the identity claim. Verify is pure: same inputs, same
// result, no clock, I/O or randomness.
func Verify(token string, keys *KeySet, want Expect) (Claims, error) {
	want, err := want.withDefaults()
	if err != nil {
		return Claims{}, err
	}
	if keys == nil || len(keys.keys) == 0 {
		return Claims{}, fmt.Errorf("%w: no key set", ErrExpect)
	}
	t, err := parseJWS(token)
	if err != nil {
		return Claims{}, err
	}
	if err := checkHeader(t.header); err != nil {
		return Claims{}, err
	}
	// Refuse the alg before the key lookup, so "alg none without kid" says alg, not kid.
	if err := allowedAlg(t.header.Alg); err != nil {
		return Claims{}, err
	}
	k, err := keys.lookup(t.header.Kid)
	if err != nil {
		return Claims{}, err
	}
	if err := verifySignature(t, k); err != nil {
		return Claims{}, err
	}
	p, err := parsePayload(t.payload)
	if err != nil {
		return Claims{}, err
	}
	c, err := p.check(want)
	if err != nil {
		return Claims{}, err
	}
	c.KeyID = k.kid
	return c, nil
}

// withDefaults fills the documented defaults and refuses an Expect that would
// let any token through.
func (e Expect) withDefaults() (Expect, error) {
	switch {
	case e.Issuer == "":
		return e, fmt.Errorf("%w: Issuer is empty", ErrExpect)
	case e.Audience == "":
		return e, fmt.Errorf("%w: Audience is empty", ErrExpect)
	case e.Nonce == "":
		return e, fmt.Errorf("%w: Nonce is empty; a token must be bound to one statement", ErrExpect)
	case e.Now.IsZero():
		return e, fmt.Errorf("%w: Now is the zero time", ErrExpect)
	case e.Leeway < 0 || e.MaxAge < 0:
		return e, fmt.Errorf("%w: Leeway %s and MaxAge %s must not be negative", ErrExpect, e.Leeway, e.MaxAge)
	}
	if e.IdentityClaim == "" {
		e.IdentityClaim = "email"
	}
	if e.GroupsClaim == "" {
		e.GroupsClaim = "groups"
	}
	if e.Leeway == 0 {
		e.Leeway = DefaultLeeway
	}
	return e, nil
}

// NonceFor is the nonce binding a token to a statement: base64url(sha256(statement)), no padding.
func NonceFor(statement []byte) string {
	sum := sha256.Sum256(statement)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// quote quotes a value from a token for an error message, cut short so a
// hostile token cannot flood the log.
func quote(s string) string {
	const maxQuoted = 80
	if len(s) > maxQuoted {
		return fmt.Sprintf("%q...(%d bytes)", s[:maxQuoted], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}
