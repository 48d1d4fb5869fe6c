package oidc

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// maxNumericDate is 9999-12-31T23:59:59Z: a later exp or iat is nonsense, and
// the bound keeps the float-to-time conversion exact enough and panic free.
const maxNumericDate = 253402300799

// payload is a token's decoded claims; numbers stay json.Number, and a claim
// that is JSON null counts as absent.
type payload map[string]any

func parsePayload(b []byte) (payload, error) {
	var p payload
	if err := strictJSON(b, &p); err != nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object: %v", ErrClaims, err)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: payload is JSON null", ErrClaims)
	}
	return p, nil
}

// check runs the claim checks in a fixed order and collects what Verify returns.
func (p payload) check(want Expect) (Claims, error) {
	var c Claims
	var err error
	if c.Issuer, err = p.requiredString("iss", ErrIssuer); err != nil {
		return c, err
	}
	if c.Issuer != want.Issuer {
		return c, fmt.Errorf("%w: token iss is %s, want %s", ErrIssuer, quote(c.Issuer), quote(want.Issuer))
	}
	if err := p.checkAudience(want.Audience); err != nil {
		return c, err
	}
	if c.Expiry, c.IssuedAt, err = p.checkTimes(want); err != nil {
		return c, err
	}
	nonce, err := p.requiredString("nonce", ErrNonce)
	if err != nil {
		return c, err
	}
	if nonce != want.Nonce {
		return c, fmt.Errorf("%w: token nonce is %s, want %s (the token was issued for another statement)", ErrNonce, quote(nonce), quote(want.Nonce))
	}
	if c.Subject, err = p.requiredString("sub", ErrIdentity); err != nil {
		return c, err
	}
	if c.Identity, err = p.requiredString(want.IdentityClaim, ErrIdentity); err != nil {
		return c, err
	}
	if want.IdentityClaim == "email" {
		if err := p.checkEmailVerified(c.Identity); err != nil {
			return c, err
		}
	}
	if c.Groups, err = p.groups(want.GroupsClaim); err != nil {
		return c, err
	}
	return c, nil
}

// requiredString reads a claim that must be a non-empty string; missing or
// empty wraps absent, the wrong type wraps ErrClaims.
func (p payload) requiredString(name string, absent error) (string, error) {
	v, ok := p[name]
	if !ok || v == nil {
		return "", fmt.Errorf("%w: token has no %q claim", absent, name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: claim %q is %s, want a string", ErrClaims, name, typeName(v))
	}
	if s == "" {
		return "", fmt.Errorf("%w: claim %q is empty", absent, name)
	}
	return s, nil
}

// checkAudience: aud is a string or an array of strings holding want; with
// several audiences azp must be present, and azp when present must be want
// (OIDC Core 3.1.3.7 steps 3 to 5).
func (p payload) checkAudience(want string) error {
	var aud []string
	switch v := p["aud"].(type) {
	case nil:
		return fmt.Errorf("%w: token has no \"aud\" claim, want %s", ErrAudience, quote(want))
	case string:
		aud = []string{v}
	case []any:
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return fmt.Errorf("%w: claim \"aud\" holds %s, want strings", ErrClaims, typeName(a))
			}
			aud = append(aud, s)
		}
	default:
		return fmt.Errorf("%w: claim \"aud\" is %s, want a string or an array", ErrClaims, typeName(v))
	}
	if !slices.Contains(aud, want) {
		return fmt.Errorf("%w: token aud is [%s], want %s", ErrAudience, strings.Join(quoteAll(aud), ", "), quote(want))
	}
	azp := p["azp"]
	if azp == nil {
		if len(aud) > 1 {
			return fmt.Errorf("%w: token has %d audiences and no \"azp\" claim, want azp %s", ErrAudience, len(aud), quote(want))
		}
		return nil
	}
	s, ok := azp.(string)
	if !ok {
		return fmt.Errorf("%w: claim \"azp\" is %s, want a string", ErrClaims, typeName(azp))
	}
	if s != want {
		return fmt.Errorf("%w: token azp is %s, want %s", ErrAudience, quote(s), quote(want))
	}
	return nil
}

// checkTimes checks exp (required), nbf (optional), iat (required; not in the
// future, not older than MaxAge), each with the leeway.
func (p payload) checkTimes(want Expect) (exp, iat time.Time, err error) {
	now, skew := want.Now, want.Leeway
	exp, hasExp, err := p.numericDate("exp")
	if err != nil {
		return exp, iat, err
	}
	if !hasExp {
		return exp, iat, fmt.Errorf("%w: token has no \"exp\" claim", ErrExpired)
	}
	if !now.Before(exp.Add(skew)) {
		return exp, iat, fmt.Errorf("%w: token exp is %s, now is %s (leeway %s)", ErrExpired, stamp(exp), stamp(now), skew)
	}
	nbf, hasNbf, err := p.numericDate("nbf")
	if err != nil {
		return exp, iat, err
	}
	if hasNbf && now.Add(skew).Before(nbf) {
		return exp, iat, fmt.Errorf("%w: token nbf is %s, now is %s (leeway %s)", ErrNotYetValid, stamp(nbf), stamp(now), skew)
	}
	iat, hasIat, err := p.numericDate("iat")
	if err != nil {
		return exp, iat, err
	}
	if !hasIat {
		return exp, iat, fmt.Errorf("%w: token has no \"iat\" claim", ErrClaims)
	}
	if now.Add(skew).Before(iat) {
		return exp, iat, fmt.Errorf("%w: token iat is %s, in the future of now %s (leeway %s)", ErrNotYetValid, stamp(iat), stamp(now), skew)
	}
	if want.MaxAge > 0 && now.Sub(iat) > want.MaxAge+skew {
		return exp, iat, fmt.Errorf("%w: token iat is %s, %s before now %s; max age is %s (leeway %s)",
			ErrTooOld, stamp(iat), now.Sub(iat).Round(time.Second), stamp(now), want.MaxAge, skew)
	}
	return exp, iat, nil
}

// numericDate reads a NumericDate claim (seconds since the epoch, maybe
// fractional; RFC 7519 section 2).
func (p payload) numericDate(name string) (time.Time, bool, error) {
	v, ok := p[name]
	if !ok || v == nil {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false, fmt.Errorf("%w: claim %q is %s, want a number of seconds", ErrClaims, name, typeName(v))
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false, fmt.Errorf("%w: claim %q is %s, want seconds from 0 to %d", ErrClaims, name, quote(n.String()), maxNumericDate)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true, nil
}

// checkEmailVerified refuses email_verified false (or the string "false" some
// IdPs send); an absent claim is accepted, as the brief asks.
func (p payload) checkEmailVerified(email string) error {
	switch v := p["email_verified"].(type) {
	case nil:
		return nil
	case bool:
		if v {
			return nil
		}
	case string:
		if v == "true" {
			return nil
		}
		if v != "false" {
			return fmt.Errorf("%w: claim \"email_verified\" is %s, want true or false", ErrClaims, quote(v))
		}
	default:
		return fmt.Errorf("%w: claim \"email_verified\" is %s, want a boolean", ErrClaims, typeName(v))
	}
	return fmt.Errorf("%w: token says email_verified false for %s", ErrEmailUnverified, quote(email))
}

// groups reads the groups claim: an array of strings or one string; absent is no groups.
func (p payload) groups(name string) ([]string, error) {
	switch v := p[name].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, g := range v {
			s, ok := g.(string)
			if !ok {
				return nil, fmt.Errorf("%w: claim %q holds %s, want strings", ErrClaims, name, typeName(g))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: claim %q is %s, want an array of strings or a string", ErrClaims, name, typeName(v))
	}
}

// typeName names a decoded JSON value's type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
