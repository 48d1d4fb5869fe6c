package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// authorize fetches an anonymous Bearer token as the registry's challenge
// describes (the distribution token protocol) and caches it. Other schemes
// (Basic) need credentials, which this client does not hold, so they end as
// the 401 the registry gave.
func (c *Client) authorize(ctx context.Context, ref Reference, u, challenge string) (string, error) {
	scheme, params := parseChallenge(challenge)
	if !strings.EqualFold(scheme, "bearer") || params["realm"] == "" {
		return "", &StatusError{URL: u, StatusCode: http.StatusUnauthorized, Detail: "registry wants " + challengeName(scheme) + " credentials"}
	}
	tokenURL, err := tokenRequestURL(ref, params)
	if err != nil {
		return "", err
	}
	tok, err := c.fetchToken(ctx, tokenURL)
	if err != nil {
		return "", err
	}
	c.remember(ref, tok)
	return tok, nil
}

// tokenRequestURL builds realm?service=...&scope=... for a pull of ref.
func tokenRequestURL(ref Reference, params map[string]string) (string, error) {
	realm, err := url.Parse(params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("registry %s names token realm %q, which is not an http(s) URL", ref.Registry, params["realm"])
	}
	q := realm.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	// The challenge's scope is what the registry wants; without one, ask
	// for what this client does: pull.
	scope := params["scope"]
	if scope == "" {
		scope = "repository:" + ref.apiRepository() + ":pull"
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	return realm.String(), nil
}

// fetchToken GETs a token endpoint; registries answer with "token",
// "access_token" or both.
func (c *Client) fetchToken(ctx context.Context, tokenURL string) (string, error) {
	resp, err := c.send(ctx, tokenURL, "application/json", "")
	if err != nil {
		return "", err
	}
	defer discard(resp)
	if resp.StatusCode != http.StatusOK {
		return "", newStatusError(tokenURL, resp)
	}
	body, err := readLimited(resp.Body, maxTokenBytes)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", redact(tokenURL), err)
	}
	var t struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return "", fmt.Errorf("GET %s: token answer is not JSON: %w", redact(tokenURL), err)
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	if t.Token == "" {
		return "", fmt.Errorf("GET %s: token answer holds no token", redact(tokenURL))
	}
	return t.Token, nil
}

// parseChallenge splits `Bearer realm="...",service="..."` into its scheme
// and lower-cased parameter names, honouring quoted commas and escapes.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		var key, val string
		key, rest, _ = strings.Cut(rest, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		val, rest = challengeValue(strings.TrimSpace(rest))
		if key != "" {
			params[key] = val
		}
		rest = strings.TrimLeft(rest, ", ")
	}
	return scheme, params
}

// challengeValue reads one token or quoted string from the front of s.
func challengeValue(s string) (string, string) {
	if !strings.HasPrefix(s, `"`) {
		v, rest, _ := strings.Cut(s, ",")
		return strings.TrimSpace(v), rest
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

func challengeName(scheme string) string {
	if scheme == "" {
		return "unnamed"
	}
	return scheme
}
