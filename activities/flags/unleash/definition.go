package unleash

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// Title marks the strategy runbook writes, so people see where it came from.
const Title = "runbook"

// document is a Definition's Raw: the environment's enabled state and its
// strategies in order, each without what Unleash assigns (id, sort order)
// or leaves empty, so two reads of the same configuration compare equal
// and a restore can send each strategy back as it was.
type document struct {
	Enabled    bool             `json:"enabled"`
	Strategies []map[string]any `json:"strategies"`
}

// assigned are strategy fields Unleash sets itself.
var assigned = map[string]bool{"id": true, "sortOrder": true, "featureName": true, "projectId": true, "environment": true, "milestoneId": true}

// clean is a strategy as runbook records and re-creates it.
func clean(st map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range st {
		if assigned[k] || flagapi.Empty(v) {
			continue
		}
		out[k] = v
	}
	return out
}

func docOf(e environment) document {
	d := document{Enabled: e.Enabled, Strategies: []map[string]any{}}
	for _, st := range e.Strategies {
		d.Strategies = append(d.Strategies, clean(st))
	}
	return d
}

// Read returns the flag's configuration in the environment.
func (p *Provider) Read(ctx context.Context, flag string) (flagapi.Definition, error) {
	e, ok, err := p.get(ctx, flag)
	if err != nil || !ok {
		return flagapi.Definition{Flag: flag}, err
	}
	doc := docOf(e)
	raw, err := json.Marshal(doc)
	if err != nil {
		return flagapi.Definition{}, err
	}
	r, err := p.rolloutOf(ctx, doc)
	if err != nil {
		return flagapi.Definition{}, err
	}
	return flagapi.Definition{Flag: flag, Exists: true, Raw: raw, Rollout: r}, nil
}

// rolloutOf reads the rollout a configuration expresses, nil when it is
// not one runbook writes: disabled is off; one default strategy is on for
// everyone; one flexibleRollout without constraints or variants is a
// percentage, or with segments at 100% a segment rollout.
func (p *Provider) rolloutOf(ctx context.Context, d document) (*flagapi.Rollout, error) {
	if !d.Enabled {
		return &flagapi.Rollout{}, nil
	}
	if len(d.Strategies) != 1 {
		return nil, nil
	}
	st := d.Strategies[0]
	if st["constraints"] != nil || st["variants"] != nil || st["disabled"] != nil {
		return nil, nil
	}
	switch st["name"] {
	case "default":
		if st["segments"] == nil {
			return &flagapi.Rollout{On: true, Percentage: 100}, nil
		}
	case "flexibleRollout":
		params, _ := st["parameters"].(map[string]any)
		pct, ok := percent(params["rollout"])
		if !ok || (params["stickiness"] != nil && params["stickiness"] != "default") {
			return nil, nil
		}
		if st["segments"] == nil {
			return &flagapi.Rollout{On: pct > 0, Percentage: pct}, nil
		}
		if pct == 100 {
			names, err := p.segmentNames(ctx, st["segments"])
			if err != nil || names == nil {
				return nil, err
			}
			return &flagapi.Rollout{On: true, Segments: names}, nil
		}
	}
	return nil, nil
}

// percent reads a rollout parameter: Unleash stores it as a string, some
// versions answer a number.
func percent(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil && n >= 0 && n <= 100
	case float64:
		return int(x), x == float64(int(x)) && x >= 0 && x <= 100
	}
	return 0, false
}

// segment is one of GET /api/admin/segments.
type segment struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func (p *Provider) segments(ctx context.Context) ([]segment, error) {
	var out struct {
		Segments []segment `json:"segments"`
	}
	status, err := p.c.Do(ctx, flagapi.Request{Method: http.MethodGet, Path: "/api/admin/segments", Out: &out})
	if err == nil && status == http.StatusNotFound {
		err = fmt.Errorf("unleash: GET /api/admin/segments: 404: this Unleash has no segments API (segments need Unleash 4.13 or later)")
	}
	return out.Segments, err
}

// segmentNames maps a strategy's segment ids to names, in order; nil when
// one is unknown (then the rollout is not one runbook wrote).
func (p *Provider) segmentNames(ctx context.Context, ids any) ([]string, error) {
	all, err := p.segments(ctx)
	if err != nil {
		return nil, err
	}
	list, _ := ids.([]any)
	var names []string
	for _, id := range list {
		n, _ := id.(float64)
		found := ""
		for _, s := range all {
			if float64(s.ID) == n {
				found = s.Name
			}
		}
		if found == "" {
			return nil, nil
		}
		names = append(names, found)
	}
	return names, nil
}
