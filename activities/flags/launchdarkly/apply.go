package launchdarkly

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// semanticPatch is the Content-Type of a semantic patch.
const semanticPatch = "application/json; domain-model=launchdarkly.semanticpatch"

// Apply sets the flag's rollout in the environment in one semantic patch,
// creating a temporary boolean flag when absent.
func (p *Provider) Apply(ctx context.Context, key string, r flagapi.Rollout) error {
	f, env, ok, err := p.get(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		if err := p.create(ctx, key); err != nil {
			return err
		}
		if f, env, _, err = p.get(ctx, key); err != nil {
			return err
		}
	}
	on, off, err := boolean(key, f.Variations)
	if err != nil {
		return err
	}
	var t targeting
	if err := json.Unmarshal(env, &t); err != nil {
		return fmt.Errorf("launchdarkly: flag %s: %w", key, err)
	}
	body := map[string]any{"environmentKey": p.env, "comment": "runbook flag step: " + r.String(),
		"instructions": instructions(t, f.Variations[on].ID, f.Variations[off].ID, r)}
	return p.change(ctx, http.MethodPatch, p.flagPath(key), semanticPatch, body)
}

// instructions turn the targeting into the rollout: off is the flag off
// serving false; on removes every rule, adds the segment rule when there
// are segments, sets the fallthrough and turns the flag on.
func instructions(t targeting, onID, offID string, r flagapi.Rollout) []map[string]any {
	if !r.On {
		return []map[string]any{{"kind": "turnFlagOff"}, {"kind": "updateOffVariation", "variationId": offID}}
	}
	var ins []map[string]any
	for _, rule := range t.Rules {
		ins = append(ins, map[string]any{"kind": "removeRule", "ruleId": rule.ID})
	}
	ft := map[string]any{"kind": "updateFallthroughVariationOrRollout"}
	switch pct := min(r.Percentage, 100); {
	case len(r.Segments) > 0:
		ins = append(ins, map[string]any{"kind": "addRule", "description": "runbook", "variationId": onID,
			"clauses": []map[string]any{{"contextKind": "user", "attribute": "segmentMatch", "op": "segmentMatch", "values": r.Segments, "negate": false}}})
		ft["variationId"] = offID
	case pct >= 100:
		ft["variationId"] = onID
	default:
		ft["rolloutWeights"] = map[string]int{onID: pct * 1000, offID: (100 - pct) * 1000}
		ft["rolloutBucketBy"] = "key"
		ft["rolloutContextKind"] = "user"
	}
	return append(ins, ft, map[string]any{"kind": "turnFlagOn"})
}

// Restore puts back the targeting read before, in one JSON Patch (rules
// get new ids; LaunchDarkly assigns them). A flag that did not exist is
// deleted. A flag deleted since it was read is not re-created: its other
// environments, variations' names and settings are not in the definition.
func (p *Provider) Restore(ctx context.Context, d flagapi.Definition) error {
	_, _, ok, err := p.get(ctx, d.Flag)
	if err != nil {
		return err
	}
	if !d.Exists {
		if !ok {
			return nil
		}
		return p.change(ctx, http.MethodDelete, p.flagPath(d.Flag), "", nil)
	}
	if !ok {
		return fmt.Errorf("launchdarkly: flag %s was deleted since runbook read it; runbook will not re-create it from one environment's targeting: re-create it in LaunchDarkly", d.Flag)
	}
	var doc document
	if err := json.Unmarshal(d.Raw, &doc); err != nil {
		return fmt.Errorf("launchdarkly: the definition of %s to restore: %w", d.Flag, err)
	}
	at := "/environments/" + p.env + "/"
	ops := []map[string]any{
		{"op": "replace", "path": at + "fallthrough", "value": doc.Fallthrough},
		{"op": "replace", "path": at + "rules", "value": doc.Rules},
		{"op": "replace", "path": at + "targets", "value": doc.Targets},
		{"op": "replace", "path": at + "contextTargets", "value": doc.ContextTargets},
		{"op": "replace", "path": at + "prerequisites", "value": doc.Prerequisites},
		{"op": "replace", "path": at + "on", "value": doc.On},
	}
	if doc.OffVariation != nil {
		ops = append(ops, map[string]any{"op": "replace", "path": at + "offVariation", "value": *doc.OffVariation})
	}
	return p.change(ctx, http.MethodPatch, p.flagPath(d.Flag), "application/json",
		map[string]any{"comment": "runbook: restore the definition read before the flag step", "patch": ops})
}

func (p *Provider) create(ctx context.Context, key string) error {
	return p.change(ctx, http.MethodPost, "/api/v2/flags/"+url.PathEscape(p.project), "", map[string]any{
		"key": key, "name": key, "description": "created by runbook for a flag step", "temporary": true,
		"variations": []map[string]any{{"value": true}, {"value": false}},
		"defaults":   map[string]int{"onVariation": 0, "offVariation": 1},
	})
}

// change makes a call that must succeed: a 404 is an error here.
func (p *Provider) change(ctx context.Context, method, path, contentType string, body any) error {
	status, err := p.c.Do(ctx, flagapi.Request{Method: method, Path: path, ContentType: contentType, Body: body})
	if err == nil && status == http.StatusNotFound {
		err = fmt.Errorf("launchdarkly: %s %s: 404: not found (was the flag or project removed meanwhile?)", method, path)
	}
	return err
}
