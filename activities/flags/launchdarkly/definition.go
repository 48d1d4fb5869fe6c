package launchdarkly

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/runbookhq/runbook/activities/flags/flagapi"
)

// document is a Definition's Raw: the flag's variation values and the
// environment's targeting, without what LaunchDarkly assigns (ids,
// versions, salts) or leaves empty, so two reads of the same targeting
// compare equal and a restore can send it back as it was.
type document struct {
	Variations     []any `json:"variations"`
	On             bool  `json:"on"`
	OffVariation   *int  `json:"offVariation,omitempty"`
	Fallthrough    any   `json:"fallthrough"`
	Rules          []any `json:"rules"`
	Targets        []any `json:"targets"`
	ContextTargets []any `json:"contextTargets"`
	Prerequisites  []any `json:"prerequisites"`
}

// targeting is what runbook interprets of an environment.
type targeting struct {
	On           bool   `json:"on"`
	OffVariation *int   `json:"offVariation"`
	Fallthrough  serve  `json:"fallthrough"`
	Rules        []rule `json:"rules"`
}

type serve struct {
	Variation *int `json:"variation"`
	Rollout   *struct {
		Variations []struct {
			Variation int `json:"variation"`
			Weight    int `json:"weight"`
		} `json:"variations"`
		BucketBy string `json:"bucketBy"`
	} `json:"rollout"`
}

type rule struct {
	ID string `json:"_id"`
	serve
	Clauses []struct {
		Attribute string `json:"attribute"`
		Op        string `json:"op"`
		Values    []any  `json:"values"`
		Negate    bool   `json:"negate"`
	} `json:"clauses"`
}

// Read returns the flag's targeting in the environment.
func (p *Provider) Read(ctx context.Context, key string) (flagapi.Definition, error) {
	f, env, ok, err := p.get(ctx, key)
	if err != nil || !ok {
		return flagapi.Definition{Flag: key}, err
	}
	doc, t, err := docOf(f, env)
	if err != nil {
		return flagapi.Definition{}, fmt.Errorf("launchdarkly: flag %s: %w", key, err)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return flagapi.Definition{}, err
	}
	return flagapi.Definition{Flag: key, Exists: true, Raw: raw, Rollout: rolloutOf(f, t)}, nil
}

func docOf(f flag, env json.RawMessage) (document, targeting, error) {
	var t targeting
	var m map[string]any
	if err := json.Unmarshal(env, &t); err != nil {
		return document{}, t, err
	}
	if err := json.Unmarshal(env, &m); err != nil {
		return document{}, t, err
	}
	d := document{On: t.On, OffVariation: t.OffVariation, Fallthrough: compact(m["fallthrough"]),
		Rules: list(m["rules"]), Targets: list(m["targets"]), ContextTargets: list(m["contextTargets"]), Prerequisites: list(m["prerequisites"])}
	for _, v := range f.Variations {
		d.Variations = append(d.Variations, v.Value)
	}
	return d, t, nil
}

// list is a compacted JSON array, [] when absent.
func list(v any) []any {
	out := []any{}
	a, _ := v.([]any)
	for _, x := range a {
		out = append(out, compact(x))
	}
	return out
}

// compact drops ids LaunchDarkly assigns (_id) and members that are null,
// "", false, [] or {} (LaunchDarkly's defaults), at every depth.
func compact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			e = compact(e)
			if k == "_id" || flagapi.Empty(e) {
				continue
			}
			out[k] = e
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, compact(e))
		}
		return out
	}
	return v
}

// rolloutOf reads the rollout the targeting expresses, nil when it is not
// one runbook writes (or the flag is not boolean).
func rolloutOf(f flag, t targeting) *flagapi.Rollout {
	on, off, err := boolean("", f.Variations)
	if err != nil {
		return nil
	}
	if !t.On {
		if t.OffVariation != nil && *t.OffVariation == off {
			return &flagapi.Rollout{}
		}
		return nil
	}
	switch len(t.Rules) {
	case 0:
		return fallthroughRollout(t.Fallthrough, on, off)
	case 1:
		r := t.Rules[0]
		if r.Variation == nil || *r.Variation != on || r.Rollout != nil || len(r.Clauses) != 1 ||
			t.Fallthrough.Variation == nil || *t.Fallthrough.Variation != off {
			return nil
		}
		c := r.Clauses[0]
		if c.Op != "segmentMatch" || c.Negate {
			return nil
		}
		var segs []string
		for _, v := range c.Values {
			s, ok := v.(string)
			if !ok {
				return nil
			}
			segs = append(segs, s)
		}
		return &flagapi.Rollout{On: true, Segments: segs}
	}
	return nil
}

func fallthroughRollout(s serve, on, off int) *flagapi.Rollout {
	switch {
	case s.Variation != nil && *s.Variation == on:
		return &flagapi.Rollout{On: true, Percentage: 100}
	case s.Variation != nil && *s.Variation == off:
		return &flagapi.Rollout{}
	case s.Rollout == nil || len(s.Rollout.Variations) != 2 || (s.Rollout.BucketBy != "" && s.Rollout.BucketBy != "key"):
		return nil
	}
	w := 0
	for _, v := range s.Rollout.Variations {
		if v.Variation == on {
			w = v.Weight
		}
	}
	if w%1000 != 0 {
		return nil
	}
	return &flagapi.Rollout{On: w > 0, Percentage: w / 1000}
}
