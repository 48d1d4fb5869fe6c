package httpcheck

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
)

// buildRequest validates the input and builds the request, resolving env:
// headers. Every error it returns is non-retryable: the same input fails the
// same way on every attempt.
func buildRequest(ctx context.Context, in HTTPCheckInput) (*http.Request, error) {
	u, err := parseURL(in.URL)
	if err != nil {
		return nil, err
	}
	if !allowedMethods[in.Method] {
		return nil, invalid(fmt.Sprintf("method %q is not supported; use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", in.Method))
	}
	if in.Method == http.MethodHead && in.ExpectBody != "" {
		return nil, invalid("a HEAD response has no body, so expect-body can never match; use GET")
	}
	if in.Timeout < 0 {
		return nil, invalid(fmt.Sprintf("timeout %s is negative", in.Timeout))
	}
	req, err := http.NewRequestWithContext(ctx, in.Method, u.String(), strings.NewReader(in.Body))
	if err != nil {
		return nil, invalid(fmt.Sprintf("%s %s: %v", in.Method, u.Redacted(), err))
	}
	if err := setHeaders(req, in); err != nil {
		return nil, err
	}
	return req, nil
}

// parseURL accepts absolute http and https URLs only, and none to a
// link-local or metadata host as written (the dialer checks the address the
// name resolves to).
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid(fmt.Sprintf("URL %q is not valid: %v", raw, err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid(fmt.Sprintf("URL %q must be absolute http:// or https://", u.Redacted()))
	}
	if err := netguard.CheckHost(u.Hostname()); err != nil {
		return nil, invalid(fmt.Sprintf("URL %q: %v", u.Redacted(), err))
	}
	return u, nil
}

// setHeaders sets the caller's headers, then the ones the check owns. Values are
// never put in errors or logs: they may be tokens. An env:NAME value resolves
// only when the worker allows NAME (secretref); a refusal is reported before
// anything is sent, so a runbook cannot mail the worker's secrets out.
func setHeaders(req *http.Request, in HTTPCheckInput) error {
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(in.Headers)) {
		value := in.Headers[name]
		if env, ok := strings.CutPrefix(value, envPrefix); ok {
			v, found, err := secretref.Lookup(env)
			if err != nil {
				return invalid(fmt.Sprintf("header %s: %v", name, err))
			}
			if !found || v == "" {
				missing = append(missing, fmt.Sprintf("%s (for header %s)", env, name))
				continue
			}
			value = v
		}
		if http.CanonicalHeaderKey(name) == "Host" {
			req.Host = value // net/http ignores a Host entry in req.Header
			continue
		}
		req.Header.Set(name, value)
	}
	if len(missing) > 0 {
		slices.Sort(missing) // map order is random; keep the message stable across attempts
		return invalid(fmt.Sprintf("environment variable %s is not set or empty on the worker; export it in the worker's environment and restart it",
			strings.Join(missing, ", ")))
	}
	if in.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", in.IdempotencyKey)
	}
	req.Header.Set("User-Agent", "runbook/"+Version)
	return nil
}

// invalid builds the non-retryable error for a check that cannot pass as written.
func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError("http-check: "+msg, ErrTypeInvalid, nil)
}
