package flagapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/runbookhq/runbook/internal/netguard"
)

// callTimeout bounds every API call.
const callTimeout = 30 * time.Second

// Client calls one flag system's JSON API with a token in the
// Authorization header. The token never appears in its errors or String.
type Client struct {
	// Provider names the flag system in errors ("unleash").
	Provider string
	// Base is the API's base URL; paths are appended to it.
	Base *url.URL
	// TokenRef is the token's env:NAME reference, named in a 401's error.
	TokenRef string
	token    string
	http     *http.Client
}

// NewClient makes a Client refusing link-local and metadata addresses.
func NewClient(provider string, base *url.URL, tokenRef, token string) *Client {
	return &Client{Provider: provider, Base: base, TokenRef: tokenRef, token: token, http: netguard.Client(nil, callTimeout)}
}

// String names the API without the token.
func (c *Client) String() string { return c.Provider + " at " + c.Base.String() }

// LogValue keeps the token out of slog output.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Request is one call: Body (when not nil) is sent as JSON with
// ContentType (application/json when empty); a 2xx answer is decoded
// into Out when not nil.
type Request struct {
	Method, Path, ContentType string
	Body, Out                 any
}

// Do makes the call and returns the HTTP status. 404 is returned without
// an error (callers decide what absent means); 401 and 403 name the token
// reference; other non-2xx answers are errors quoting the API's message.
func (c *Client) Do(ctx context.Context, r Request) (int, error) {
	var body io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.Base.String()+r.Path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", c.token)
	req.Header.Set("Accept", "application/json")
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %s %s: %w", c.Provider, r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s: %s %s: reading the answer: %w", c.Provider, r.Method, r.Path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return resp.StatusCode, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return resp.StatusCode, fmt.Errorf("%s: %s %s: %d: the token from %s was refused (wrong token, or one without write access to this project and environment)",
			c.Provider, r.Method, r.Path, resp.StatusCode, c.TokenRef)
	case resp.StatusCode/100 != 2:
		return resp.StatusCode, fmt.Errorf("%s: %s %s: %d: %s", c.Provider, r.Method, r.Path, resp.StatusCode, message(data))
	}
	if r.Out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, r.Out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: %s %s: the answer is not the JSON expected: %w", c.Provider, r.Method, r.Path, err)
		}
	}
	return resp.StatusCode, nil
}

// message is an error answer's message field, or its start.
func message(data []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &m) == nil && m.Message != "" {
		return m.Message
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
