// Package launchdarkly is the flag provider for LaunchDarkly, through its
// REST API v2 (https://launchdarkly.com/docs/api/feature-flags). A flag is
// a boolean flag in one project; runbook changes its targeting in one
// environment.
//
// A rollout is the environment's targeting with no rules of a person's
// own: off is the flag off (serving false); a percentage is a fallthrough
// rollout (weights in thousandths of a percent, bucketed by key); everyone
// is the fallthrough serving true; segments are one rule matching them,
// serving true, with the fallthrough serving false. Apply sends one
// semantic patch, which LaunchDarkly applies atomically and records with
// its comment; Restore puts back what was read with one JSON Patch.
// Individual targets and prerequisites are recorded and restored but not
// changed: they are exceptions a person set on purpose.
package launchdarkly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// Options a runbook may give the launchdarkly provider.
const (
	OptURL         = "url"
	OptToken       = "token"
	OptProject     = "project"
	OptEnvironment = "environment"
)

// DefaultURL is LaunchDarkly's API (the commercial instance).
const DefaultURL = "https://app.launchdarkly.com"

// Provider changes flags in one LaunchDarkly project and environment.
type Provider struct {
	c            *flagapi.Client
	project, env string
}

// New builds a Provider from options: project and environment (keys,
// required), token (env:NAME of an API access token with writer role)
// and url (default DefaultURL; federal and EU instances differ).
func New(opts map[string]string) (*Provider, error) {
	if err := flagapi.CheckOptions("launchdarkly", opts, OptURL, OptToken, OptProject, OptEnvironment); err != nil {
		return nil, err
	}
	if opts[OptProject] == "" || opts[OptEnvironment] == "" || opts[OptToken] == "" {
		return nil, errors.New("launchdarkly: options project and environment (keys, e.g. default and production) and token (env:NAME) are required")
	}
	raw := opts[OptURL]
	if raw == "" {
		raw = DefaultURL
	}
	base, err := flagapi.BaseURL("launchdarkly", OptURL, raw)
	if err != nil {
		return nil, err
	}
	token, err := flagapi.Token("launchdarkly", OptToken, opts[OptToken])
	if err != nil {
		return nil, err
	}
	return &Provider{c: flagapi.NewClient("launchdarkly", base, opts[OptToken], token), project: opts[OptProject], env: opts[OptEnvironment]}, nil
}

// String names the API, project and environment.
func (p *Provider) String() string {
	return fmt.Sprintf("%s, project %s, environment %s", p.c, p.project, p.env)
}

// LogValue keeps the token out of slog output.
func (p *Provider) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (p *Provider) flagPath(flag string) string {
	return "/api/v2/flags/" + url.PathEscape(p.project) + "/" + url.PathEscape(flag)
}

// flag is what runbook reads of GET /api/v2/flags/{project}/{key}.
type flag struct {
	Variations   []variation                `json:"variations"`
	Environments map[string]json.RawMessage `json:"environments"`
}

type variation struct {
	ID    string `json:"_id"`
	Value any    `json:"value"`
}

// get reads the flag with its environment's targeting; ok is false when
// the flag does not exist.
func (p *Provider) get(ctx context.Context, key string) (f flag, env json.RawMessage, ok bool, err error) {
	status, err := p.c.Do(ctx, flagapi.Request{Method: http.MethodGet, Path: p.flagPath(key) + "?env=" + url.QueryEscape(p.env), Out: &f})
	if err != nil || status == http.StatusNotFound {
		return f, nil, false, err
	}
	env, found := f.Environments[p.env]
	if !found {
		return f, nil, false, fmt.Errorf("launchdarkly: flag %s has no environment %q in project %s: fix option %s (an environment key, not its name)", key, p.env, p.project, OptEnvironment)
	}
	return f, env, true, nil
}

// boolean returns the ids and indexes of a boolean flag's true and false
// variations; runbook rolls out boolean flags only.
func boolean(key string, vs []variation) (on, off int, err error) {
	on, off = -1, -1
	for i, v := range vs {
		switch v.Value {
		case true:
			on = i
		case false:
			off = i
		}
	}
	if len(vs) != 2 || on < 0 || off < 0 {
		return 0, 0, fmt.Errorf("launchdarkly: flag %s is not a boolean flag (variations true and false): runbook rolls out boolean flags only", key)
	}
	return on, off, nil
}
