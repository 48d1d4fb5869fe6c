// Package unleash is the flag provider for Unleash, through its Admin API
// (https://docs.getunleash.io/reference/api/unleash). A flag is an Unleash
// feature in one project; runbook changes only its configuration in one
// environment: enabled, and its activation strategies.
//
// A rollout is one flexibleRollout strategy titled "runbook" (rollout %,
// stickiness default, groupId the flag's name), with segments for a segment
// rollout; off is the environment disabled. Apply leaves that strategy the
// environment's only one, so what the flag does is exactly the rollout;
// Restore puts back the strategies and enabled state read before.
package unleash

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// Options a runbook may give the unleash provider.
const (
	OptURL         = "url"
	OptToken       = "token"
	OptProject     = "project"
	OptEnvironment = "environment"
)

// DefaultProject is Unleash's default project.
const DefaultProject = "default"

// Provider changes features in one Unleash project and environment.
type Provider struct {
	c            *flagapi.Client
	project, env string
}

// New builds a Provider from options: url (the Unleash base URL, without
// /api), token (env:NAME of an admin or personal access token), project
// (default "default") and environment (required).
func New(opts map[string]string) (*Provider, error) {
	if err := flagapi.CheckOptions("unleash", opts, OptURL, OptToken, OptProject, OptEnvironment); err != nil {
		return nil, err
	}
	if opts[OptURL] == "" || opts[OptEnvironment] == "" || opts[OptToken] == "" {
		return nil, errors.New("unleash: options url (Unleash's base URL), token (env:NAME) and environment (e.g. production) are required")
	}
	base, err := flagapi.BaseURL("unleash", OptURL, opts[OptURL])
	if err != nil {
		return nil, err
	}
	token, err := flagapi.Token("unleash", OptToken, opts[OptToken])
	if err != nil {
		return nil, err
	}
	project := opts[OptProject]
	if project == "" {
		project = DefaultProject
	}
	return &Provider{c: flagapi.NewClient("unleash", base, opts[OptToken], token), project: project, env: opts[OptEnvironment]}, nil
}

// String names the Unleash, project and environment.
func (p *Provider) String() string {
	return fmt.Sprintf("%s, project %s, environment %s", p.c, p.project, p.env)
}

// LogValue keeps the token out of slog output.
func (p *Provider) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (p *Provider) featurePath(flag string) string {
	return "/api/admin/projects/" + url.PathEscape(p.project) + "/features/" + url.PathEscape(flag)
}

func (p *Provider) envPath(flag string) string {
	return p.featurePath(flag) + "/environments/" + url.PathEscape(p.env)
}

// feature is what runbook reads of GET .../features/{feature}.
type feature struct {
	Name         string        `json:"name"`
	Environments []environment `json:"environments"`
}

type environment struct {
	Name       string           `json:"name"`
	Enabled    bool             `json:"enabled"`
	Strategies []map[string]any `json:"strategies"`
}

// get reads the flag's configuration in the environment; ok is false when
// the feature does not exist.
func (p *Provider) get(ctx context.Context, flag string) (environment, bool, error) {
	var f feature
	status, err := p.c.Do(ctx, flagapi.Request{Method: http.MethodGet, Path: p.featurePath(flag), Out: &f})
	if err != nil || status == http.StatusNotFound {
		return environment{}, false, err
	}
	for _, e := range f.Environments {
		if e.Name == p.env {
			return e, true, nil
		}
	}
	return environment{}, false, fmt.Errorf("unleash: feature %s has no environment %q in project %s: enable the environment for the project, or fix option %s", flag, p.env, p.project, OptEnvironment)
}
