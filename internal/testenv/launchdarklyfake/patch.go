package launchdarklyfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// instruction is one semantic patch instruction, with the fields of the
// kinds the fake implements.
type instruction struct {
	Kind               string         `json:"kind"`
	VariationID        string         `json:"variationId"`
	RolloutWeights     map[string]int `json:"rolloutWeights"`
	RolloutBucketBy    string         `json:"rolloutBucketBy"`
	RolloutContextKind string         `json:"rolloutContextKind"`
	Clauses            []Clause       `json:"clauses"`
	Description        string         `json:"description"`
	RuleID             string         `json:"ruleId"`
}

// semanticPatch applies {environmentKey, comment, instructions} to f:
// turnFlagOn, turnFlagOff, updateOffVariation,
// updateFallthroughVariationOrRollout, addRule and removeRule.
func (s *Server) semanticPatch(f *Flag, body json.RawMessage) (string, error) {
	var p struct {
		EnvironmentKey string        `json:"environmentKey"`
		Comment        string        `json:"comment"`
		Instructions   []instruction `json:"instructions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return "", fmt.Errorf("semantic patch: %v", err)
	}
	e := f.Environments[p.EnvironmentKey]
	if e == nil {
		return "", fmt.Errorf("semantic patch: unknown environmentKey %q", p.EnvironmentKey)
	}
	if len(p.Instructions) == 0 {
		return "", errors.New("semantic patch: no instructions")
	}
	for _, in := range p.Instructions {
		if err := s.apply(f, e, in); err != nil {
			return "", fmt.Errorf("semantic patch: %s: %v", in.Kind, err)
		}
	}
	e.Version++
	return p.Comment, nil
}

func (s *Server) apply(f *Flag, e *FlagEnv, in instruction) error {
	switch in.Kind {
	case "turnFlagOn", "turnFlagOff":
		e.On = in.Kind == "turnFlagOn"
	case "updateOffVariation":
		i, ok := f.variationIndex(in.VariationID)
		if !ok {
			return fmt.Errorf("unknown variationId %q", in.VariationID)
		}
		e.OffVariation = &i
	case "updateFallthroughVariationOrRollout":
		v, r, err := f.serve(in)
		if err != nil {
			return err
		}
		e.Fallthrough = Fallthrough{Variation: v, Rollout: r}
	case "addRule":
		v, r, err := f.serve(in)
		if err != nil {
			return err
		}
		if len(in.Clauses) == 0 {
			return errors.New("a rule needs clauses")
		}
		for _, c := range in.Clauses {
			if c.Attribute == "" || c.Op == "" || len(c.Values) == 0 {
				return fmt.Errorf("clause %+v needs attribute, op and values", c)
			}
		}
		e.Rules = append(e.Rules, Rule{Variation: v, Rollout: r, Clauses: in.Clauses, Description: in.Description})
		s.assignIDs(e.Rules)
	case "removeRule":
		i := slices.IndexFunc(e.Rules, func(r Rule) bool { return r.ID == in.RuleID })
		if i < 0 {
			return fmt.Errorf("unknown ruleId %q", in.RuleID)
		}
		e.Rules = slices.Delete(e.Rules, i, i+1)
	default:
		return fmt.Errorf("instruction kind %q is not one the fake implements", in.Kind)
	}
	return nil
}

// serve reads variationId or rolloutWeights (by variation id, adding up
// to 100000), exactly one of them.
func (f *Flag) serve(in instruction) (*int, *Rollout, error) {
	if (in.VariationID == "") == (in.RolloutWeights == nil) {
		return nil, nil, errors.New("give exactly one of variationId and rolloutWeights")
	}
	if in.VariationID != "" {
		i, ok := f.variationIndex(in.VariationID)
		if !ok {
			return nil, nil, fmt.Errorf("unknown variationId %q", in.VariationID)
		}
		return &i, nil, nil
	}
	r := &Rollout{BucketBy: in.RolloutBucketBy, ContextKind: in.RolloutContextKind}
	sum := 0
	for i, v := range f.Variations {
		if w, ok := in.RolloutWeights[v.ID]; ok {
			r.Variations = append(r.Variations, Weighted{Variation: i, Weight: w})
			sum += w
		}
	}
	if len(r.Variations) != len(in.RolloutWeights) || sum != 100000 {
		return nil, nil, fmt.Errorf("rolloutWeights %v must name the flag's variations and add up to 100000", in.RolloutWeights)
	}
	return nil, r, nil
}

// jsonPatch applies a JSON Patch, bare or as {patch, comment}: replace
// operations on an environment's on, offVariation, fallthrough, rules,
// targets, contextTargets and prerequisites.
func (s *Server) jsonPatch(f *Flag, body json.RawMessage) (string, error) {
	var wrapped struct {
		Patch   []op   `json:"patch"`
		Comment string `json:"comment"`
	}
	ops := &wrapped.Patch
	if err := json.Unmarshal(body, ops); err != nil {
		if err := json.Unmarshal(body, &wrapped); err != nil {
			return "", fmt.Errorf("JSON patch: %v", err)
		}
	}
	if len(*ops) == 0 {
		return "", errors.New("JSON patch: no operations")
	}
	touched := map[*FlagEnv]bool{}
	for _, o := range *ops {
		e, err := s.replace(f, o)
		if err != nil {
			return "", fmt.Errorf("JSON patch %s %s: %v", o.Op, o.Path, err)
		}
		touched[e] = true
	}
	for e := range touched {
		e.Version++
	}
	return wrapped.Comment, nil
}

type op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

func (s *Server) replace(f *Flag, o op) (*FlagEnv, error) {
	parts := strings.Split(o.Path, "/")
	if o.Op != "replace" || len(parts) != 4 || parts[0] != "" || parts[1] != "environments" {
		return nil, errors.New("the fake implements replace on /environments/{env}/{field} only")
	}
	e := f.Environments[parts[2]]
	if e == nil {
		return nil, fmt.Errorf("no environment %q", parts[2])
	}
	strict := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(o.Value))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	var err error
	switch parts[3] {
	case "on":
		err = strict(&e.On)
	case "offVariation":
		err = strict(&e.OffVariation)
	case "fallthrough":
		e.Fallthrough = Fallthrough{}
		err = strict(&e.Fallthrough)
	case "rules":
		e.Rules = nil
		if err = strict(&e.Rules); err == nil {
			s.assignIDs(e.Rules)
		}
	case "targets":
		err = strict(&e.Targets)
	case "contextTargets":
		err = strict(&e.ContextTargets)
	case "prerequisites":
		err = strict(&e.Prerequisites)
	default:
		return nil, fmt.Errorf("field %q is not one the fake implements", parts[3])
	}
	return e, err
}
