package edgerouter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// call sends one admin request and decodes a 2xx answer into out (if not
// nil). 4xx answers are the caller's mistake and not retried; anything else
// is returned as a plain, retryable error.
func (r *Router) call(ctx context.Context, method, path string, in, out any, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := r.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("edge: %s %s: %w (is `runbook edge` running?)", method, r.admin.Redacted()+path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("edge: %s %s: read answer: %w", method, path, err)
	}
	if err := answerError(method, path, resp.StatusCode, data); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("edge: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (r *Router) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.admin.String()+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// answerError turns a non-2xx answer into an error carrying the proxy's
// message.
func answerError(method, path string, code int, data []byte) error {
	if code >= 200 && code < 300 {
		return nil
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := string(data)
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	switch {
	case code == http.StatusUnauthorized:
		return invalid("edge: %s %s: 401: the token does not match the one `runbook edge` was started with", method, path)
	case code >= 400 && code < 500:
		return invalid("edge: %s %s: %d: %s", method, path, code, msg)
	default:
		return fmt.Errorf("edge: %s %s: %d: %s", method, path, code, msg)
	}
}
