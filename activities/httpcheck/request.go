package httpcheck

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
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

// parseURL accepts absolute http and https URLs only.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid(fmt.Sprintf("URL %q is not valid: %v", raw, err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid(fmt.Sprintf("URL %q must be absolute http:// or https://", u.Redacted()))
	}
	return u, nil
}

// setHeaders sets the caller's headers, then the ones the check owns. Values are
// never put in errors or logs: they may be tokens.
func setHeaders(req *http.Request, in HTTPCheckInput) error {
	var missing []string
	for name, value := range in.Headers {
		if env, ok := strings.CutPrefix(value, envPrefix); ok {
			v, found := os.LookupEnv(env)
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
