// Package edgerouter is the traffic router for runbook's embedded proxy (`runbook
// edge`, package internal/edgeproxy), driven through its admin API.
package edgerouter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
)

// Options a runbook may give the edge provider.
const (
	// OptAdmin is the admin API base URL.
	OptAdmin = "admin"
	// OptToken is a reference to the admin token: env:NAME.
	OptToken = "token"
)

// Defaults match `runbook edge` started with no flags.
const (
	DefaultAdmin    = "http://127.0.0.1:8081"
	DefaultTokenRef = secretref.Prefix + secretref.EdgeToken
)

// ErrTypeInvalid equals traffic.ErrTypeInvalid (this package cannot import
// traffic, which imports it); a test keeps the two in step.
const ErrTypeInvalid = "TrafficInvalid"

// callTimeout bounds every admin call except a drain's wait.
const callTimeout = 30 * time.Second

// Router drives one edge proxy. The token is resolved once, at
// construction, and never printed: String and LogValue leave it out.
type Router struct {
	admin  *url.URL
	token  string
	client *http.Client
}

// New builds a Router from options: admin (default DefaultAdmin) and token
// (default DefaultTokenRef). Tokens are only accepted as env:NAME references,
// since options are recorded in workflow history.
func New(opts map[string]string) (*Router, error) {
	for k := range opts {
		if k != OptAdmin && k != OptToken {
			return nil, invalid("edge: unknown option %q; known: %s, %s", k, OptAdmin, OptToken)
		}
	}
	admin, err := parseAdmin(option(opts, OptAdmin, DefaultAdmin))
	if err != nil {
		return nil, err
	}
	token, err := resolveToken(option(opts, OptToken, DefaultTokenRef))
	if err != nil {
		return nil, err
	}
	return &Router{admin: admin, token: token, client: netguard.Client(nil, 0)}, nil
}

func option(opts map[string]string, key, def string) string {
	if v := opts[key]; v != "" {
		return v
	}
	return def
}

func parseAdmin(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("edge: option %s %q: want the admin API base URL, e.g. %s", OptAdmin, raw, DefaultAdmin)
	}
	if err := netguard.CheckHost(u.Hostname()); err != nil {
		return nil, invalid("edge: option %s: %v", OptAdmin, err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// resolveToken reads an env:NAME reference the worker allows; the default
// RUNBOOK_EDGE_TOKEN is the edge router's own and needs no allowlist entry.
// The error names the variable, never a value.
func resolveToken(ref string) (string, error) {
	name, ok := strings.CutPrefix(ref, secretref.Prefix)
	if !ok || name == "" {
		return "", invalid("edge: option %s must be a reference like %s, not the token itself", OptToken, DefaultTokenRef)
	}
	v, _, err := secretref.Lookup(name, secretref.EdgeToken)
	if err != nil {
		return "", invalid("edge: option %s: %v", OptToken, err)
	}
	if v == "" {
		return "", invalid("edge: environment variable %s (option %s) is empty or unset on the worker: set it to the token `runbook edge` was started with", name, OptToken)
	}
	return v, nil
}

// String names the proxy without the token.
func (r *Router) String() string { return "edge router at " + r.admin.String() }

// LogValue keeps the token out of slog output.
func (r *Router) LogValue() slog.Value { return slog.StringValue(r.String()) }

// SetWeights applies all weights in one atomic change, then reads them back
// and fails listing every backend whose weight differs.
func (r *Router) SetWeights(ctx context.Context, weights map[string]int) error {
	for name, w := range weights {
		if w < 0 || w > 100 {
			return invalid("edge: backend %q: weight %d out of range 0..100", name, w)
		}
	}
	body := map[string]any{"weights": weights}
	if err := r.call(ctx, http.MethodPut, "/v1/weights", body, nil, callTimeout); err != nil {
		return err
	}
	got, err := r.Weights(ctx)
	if err != nil {
		return fmt.Errorf("edge: weights sent, but reading them back failed: %w", err)
	}
	return verify(r.admin.String(), weights, got)
}

// verify lists mismatches in name order, so the message is stable.
func verify(where string, want, got map[string]int) error {
	var bad []string
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			bad = append(bad, fmt.Sprintf("%s=%d (read back %s)", name, w, readBack(g, ok)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("edge at %s: weights did not take effect: %s; another writer may be changing them", where, strings.Join(bad, ", "))
}

func readBack(w int, ok bool) string {
	if !ok {
		return "missing"
	}
	return fmt.Sprint(w)
}

// Weights reports every backend's weight.
func (r *Router) Weights(ctx context.Context) (map[string]int, error) {
	var resp struct {
		Backends []struct {
			Name   string `json:"name"`
			Weight int    `json:"weight"`
		} `json:"backends"`
	}
	if err := r.call(ctx, http.MethodGet, "/v1/backends", nil, &resp, callTimeout); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(resp.Backends))
	for _, b := range resp.Backends {
		out[b.Name] = b.Weight
	}
	return out, nil
}

// Drain asks the proxy to drain backend and wait up to timeout.
func (r *Router) Drain(ctx context.Context, backend string, timeout time.Duration) (int, error) {
	if timeout < 0 {
		return 0, invalid("edge: drain %q: negative timeout %s", backend, timeout)
	}
	var resp struct {
		InFlight int `json:"inflight"`
	}
	body := map[string]string{"timeout": timeout.String()}
	path := "/v1/backends/" + url.PathEscape(backend) + "/drain"
	if err := r.call(ctx, http.MethodPost, path, body, &resp, timeout+callTimeout); err != nil {
		return 0, err
	}
	return resp.InFlight, nil
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalid, nil)
}
