package oci

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// StatusError is a registry's answer other than 200.
type StatusError struct {
	// URL is the request, without credentials or query.
	URL        string
	StatusCode int
	// Codes are the distribution error codes the registry gave, such as
	// MANIFEST_UNKNOWN or NAME_UNKNOWN.
	Codes []string
	// Detail is the registry's first error message, or this client's note.
	Detail string
}

// Error names the request, the status and what the registry said.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: status %d", e.URL, e.StatusCode)
	var said []string
	if len(e.Codes) > 0 {
		said = append(said, strings.Join(e.Codes, ", "))
	}
	if e.Detail != "" {
		said = append(said, e.Detail)
	}
	if len(said) > 0 {
		msg += " (" + strings.Join(said, ": ") + ")"
	}
	return msg
}

// NotFound reports whether the repository, manifest or blob does not exist.
func (e *StatusError) NotFound() bool {
	return e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone
}

// Temporary reports whether asking again later may succeed.
func (e *StatusError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout
}

// DigestError is content that does not hash to the digest it was asked for.
type DigestError struct {
	URL, Want, Got string
}

// Error names both digests.
func (e *DigestError) Error() string {
	return fmt.Sprintf("GET %s: content has digest %s, want %s", e.URL, e.Got, e.Want)
}

// newStatusError reads the distribution error body, if there is one.
func newStatusError(u string, resp *http.Response) *StatusError {
	e := &StatusError{URL: redact(u), StatusCode: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var doc struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil {
		for _, d := range doc.Errors {
			e.Codes = append(e.Codes, d.Code)
			if e.Detail == "" {
				e.Detail = d.Message
			}
		}
	}
	return e
}

// redact drops the query, which for token URLs holds scopes, not secrets,
// but makes messages long.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.RawQuery = ""
	return p.Redacted()
}
