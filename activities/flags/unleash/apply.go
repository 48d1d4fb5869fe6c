package unleash

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// Apply sets the flag's rollout in the environment, creating the feature
// (type release) when absent. Off disables the environment and leaves its
// strategies; on makes runbook's strategy the environment's only one
// (updated in place when it is there, so there is no moment without it)
// and then enables the environment.
func (p *Provider) Apply(ctx context.Context, flag string, r flagapi.Rollout) error {
	e, ok, err := p.get(ctx, flag)
	if err != nil {
		return err
	}
	if !ok {
		if err := p.create(ctx, flag); err != nil {
			return err
		}
		if e, _, err = p.get(ctx, flag); err != nil {
			return err
		}
	}
	if !r.On {
		return p.setEnabled(ctx, flag, false)
	}
	st, err := p.strategyFor(ctx, flag, r)
	if err != nil {
		return err
	}
	keep := slices.IndexFunc(e.Strategies, func(s map[string]any) bool { return s["title"] == Title })
	if keep >= 0 {
		err = p.updateStrategy(ctx, flag, id(e.Strategies[keep]), st)
	} else {
		err = p.addStrategy(ctx, flag, st)
	}
	if err != nil {
		return err
	}
	for i, s := range e.Strategies {
		if i != keep {
			if err := p.deleteStrategy(ctx, flag, id(s)); err != nil {
				return err
			}
		}
	}
	return p.setEnabled(ctx, flag, true)
}

// strategyFor is runbook's strategy for an on rollout.
func (p *Provider) strategyFor(ctx context.Context, flag string, r flagapi.Rollout) (map[string]any, error) {
	pct := min(r.Percentage, 100)
	if len(r.Segments) > 0 {
		pct = 100
	}
	st := map[string]any{
		"name": "flexibleRollout", "title": Title, "constraints": []any{},
		"parameters": map[string]any{"rollout": strconv.Itoa(pct), "stickiness": "default", "groupId": flag},
	}
	if len(r.Segments) == 0 {
		return st, nil
	}
	all, err := p.segments(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, name := range r.Segments {
		i := slices.IndexFunc(all, func(s segment) bool { return s.Name == name })
		if i < 0 {
			known := make([]string, len(all))
			for j, s := range all {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("unleash: no segment named %q; this Unleash has: %s", name, strings.Join(known, ", "))
		}
		ids = append(ids, all[i].ID)
	}
	st["segments"] = ids
	return st, nil
}

// Restore puts back the configuration read before: the strategies (added
// before the current ones are removed, so the flag never has none) and
// the enabled state. A feature that did not exist is archived and deleted
// from the archive. A feature deleted since it was read is not re-created:
// its type, description and other environments are not in the definition.
func (p *Provider) Restore(ctx context.Context, d flagapi.Definition) error {
	e, ok, err := p.get(ctx, d.Flag)
	if err != nil {
		return err
	}
	if !d.Exists {
		if !ok {
			return nil
		}
		return p.remove(ctx, d.Flag)
	}
	if !ok {
		return fmt.Errorf("unleash: feature %s was deleted since runbook read it; runbook will not re-create it from one environment's configuration: re-create or revive it in Unleash", d.Flag)
	}
	var doc document
	if err := json.Unmarshal(d.Raw, &doc); err != nil {
		return fmt.Errorf("unleash: the definition of %s to restore: %w", d.Flag, err)
	}
	if !doc.Enabled {
		if err := p.setEnabled(ctx, d.Flag, false); err != nil {
			return err
		}
	}
	for _, st := range doc.Strategies {
		if err := p.addStrategy(ctx, d.Flag, st); err != nil {
			return err
		}
	}
	for _, st := range e.Strategies {
		if err := p.deleteStrategy(ctx, d.Flag, id(st)); err != nil {
			return err
		}
	}
	if doc.Enabled {
		return p.setEnabled(ctx, d.Flag, true)
	}
	return nil
}

func id(st map[string]any) string {
	s, _ := st["id"].(string)
	return s
}

func (p *Provider) create(ctx context.Context, flag string) error {
	_, err := p.c.Do(ctx, flagapi.Request{Method: http.MethodPost, Path: "/api/admin/projects/" + url.PathEscape(p.project) + "/features",
		Body: map[string]string{"name": flag, "type": "release", "description": "created by runbook for a flag step"}})
	return err
}

// remove archives the feature, then deletes it from the archive so its
// name is free again, as it was before runbook created it.
func (p *Provider) remove(ctx context.Context, flag string) error {
	if err := p.change(ctx, http.MethodDelete, p.featurePath(flag), nil); err != nil {
		return err
	}
	return p.change(ctx, http.MethodPost, "/api/admin/projects/"+url.PathEscape(p.project)+"/delete", map[string][]string{"features": {flag}})
}

func (p *Provider) setEnabled(ctx context.Context, flag string, on bool) error {
	action := "/off"
	if on {
		action = "/on"
	}
	return p.change(ctx, http.MethodPost, p.envPath(flag)+action, nil)
}

func (p *Provider) addStrategy(ctx context.Context, flag string, st map[string]any) error {
	return p.change(ctx, http.MethodPost, p.envPath(flag)+"/strategies", st)
}

func (p *Provider) updateStrategy(ctx context.Context, flag, sid string, st map[string]any) error {
	return p.change(ctx, http.MethodPut, p.envPath(flag)+"/strategies/"+url.PathEscape(sid), st)
}

func (p *Provider) deleteStrategy(ctx context.Context, flag, sid string) error {
	return p.change(ctx, http.MethodDelete, p.envPath(flag)+"/strategies/"+url.PathEscape(sid), nil)
}

// change makes a call that must succeed: a 404 is an error here.
func (p *Provider) change(ctx context.Context, method, path string, body any) error {
	status, err := p.c.Do(ctx, flagapi.Request{Method: method, Path: path, Body: body})
	if err == nil && status == http.StatusNotFound {
		err = fmt.Errorf("unleash: %s %s: 404: not found (was the feature or environment removed meanwhile?)", method, path)
	}
	return err
}
