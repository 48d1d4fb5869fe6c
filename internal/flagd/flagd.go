// Package flagd reads, writes and evaluates flag definitions in the JSON
// format of OpenFeature's reference flag daemon, flagd: the file the
// `file` flag provider keeps and the sample app evaluates through the
// OpenFeature Go SDK. It covers the part of the format a rollout needs: a
// default variant, fractional targeting (a percentage of targeting keys)
// and a segment rule ({"if": [{"in": [{"var": "segment"}, [...]]}, on, off]}).
package flagd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spaolacci/murmur3"
)

// Variant names a rollout uses: a boolean flag's two variants.
const (
	VariantOn  = "on"
	VariantOff = "off"
)

// File is a flagd flag definitions document.
type File struct {
	Schema string          `json:"$schema,omitempty"`
	Flags  map[string]Flag `json:"flags"`
	// Extra keeps keys runbook does not use ($evaluators, metadata).
	Extra map[string]json.RawMessage `json:"-"`
}

// Flag is one flag's definition.
type Flag struct {
	State          string          `json:"state"`
	Variants       map[string]any  `json:"variants"`
	DefaultVariant string          `json:"defaultVariant"`
	Targeting      json.RawMessage `json:"targeting,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

// Read loads the definitions at path; a missing file is an empty document.
func Read(path string) (File, error) {
	f := File{Flags: map[string]Flag{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	return Parse(data)
}

// Parse decodes a definitions document.
func Parse(data []byte) (File, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return File{}, fmt.Errorf("not a flagd flag definitions document: %w", err)
	}
	f := File{Flags: map[string]Flag{}, Extra: map[string]json.RawMessage{}}
	for k, v := range raw {
		switch k {
		case "flags":
			if err := json.Unmarshal(v, &f.Flags); err != nil {
				return File{}, fmt.Errorf("flags: %w", err)
			}
		case "$schema":
			_ = json.Unmarshal(v, &f.Schema)
		default:
			f.Extra[k] = v
		}
	}
	return f, nil
}

// Marshal encodes the document with its extra keys, indented.
func (f File) Marshal() ([]byte, error) {
	out := map[string]any{"flags": f.Flags}
	for k, v := range f.Extra {
		out[k] = v
	}
	if f.Schema != "" {
		out["$schema"] = f.Schema
	}
	return json.MarshalIndent(out, "", "  ")
}

// Write replaces the document at path atomically (a reader — flagd's file
// sync, the sample app — never sees half a file).
func Write(path string, f File) error {
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".flags-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Evaluate resolves flag for a subject (its targeting key and segment)
// and returns the variant and why: "DEFAULT", "TARGETING_MATCH",
// "SPLIT", "DISABLED" or "FLAG_NOT_FOUND" (flagd's reasons).
func (f File) Evaluate(flag, targetingKey, segment string) (string, string) {
	d, ok := f.Flags[flag]
	switch {
	case !ok:
		return "", "FLAG_NOT_FOUND"
	case d.State == "DISABLED":
		return d.DefaultVariant, "DISABLED"
	case len(d.Targeting) == 0 || string(d.Targeting) == "{}" || string(d.Targeting) == "null":
		return d.DefaultVariant, "DEFAULT"
	}
	r, err := ParseRule(d.Targeting)
	if err != nil {
		return d.DefaultVariant, "ERROR"
	}
	if len(r.Segments) > 0 {
		if slices.Contains(r.Segments, segment) {
			return r.Match, "TARGETING_MATCH"
		}
		return r.Else, "TARGETING_MATCH"
	}
	return r.bucket(flag, targetingKey), "SPLIT"
}

// Rule is the targeting runbook writes: a fractional split, or a segment
// rule.
type Rule struct {
	// Split is the fractional targeting: variant and weight, in order.
	Split []Share
	// Segments, Match and Else are the segment rule.
	Segments    []string
	Match, Else string
}

// Share is one variant's weight in a fractional split.
type Share struct {
	Variant string
	Weight  int
}

// ParseRule reads the targeting forms runbook writes; any other form is an
// error (runbook then leaves the flag to a person).
func ParseRule(raw json.RawMessage) (Rule, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Rule{}, err
	}
	if v, ok := m["fractional"]; ok {
		var parts [][]any
		if err := json.Unmarshal(v, &parts); err != nil {
			return Rule{}, fmt.Errorf("fractional: %w", err)
		}
		var r Rule
		for _, p := range parts {
			if len(p) != 2 {
				return Rule{}, errors.New("fractional: each part is [variant, weight]")
			}
			name, _ := p[0].(string)
			w, _ := p[1].(float64)
			r.Split = append(r.Split, Share{Variant: name, Weight: int(w)})
		}
		return r, nil
	}
	if v, ok := m["if"]; ok {
		return parseSegments(v)
	}
	return Rule{}, errors.New("targeting is neither a fractional split nor a segment rule")
}

// parseSegments reads [{"in": [{"var": "segment"}, [..]]}, match, else].
func parseSegments(v json.RawMessage) (Rule, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(v, &parts); err != nil || len(parts) != 3 {
		return Rule{}, errors.New(`if: want [condition, variant, variant]`)
	}
	var cond struct {
		In []json.RawMessage `json:"in"`
	}
	if err := json.Unmarshal(parts[0], &cond); err != nil || len(cond.In) != 2 {
		return Rule{}, errors.New(`if: the condition must be {"in": [{"var": "segment"}, [...]]}`)
	}
	var r Rule
	if err := json.Unmarshal(cond.In[1], &r.Segments); err != nil {
		return Rule{}, fmt.Errorf("if: segments: %w", err)
	}
	if err := json.Unmarshal(parts[1], &r.Match); err != nil {
		return Rule{}, err
	}
	if err := json.Unmarshal(parts[2], &r.Else); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// bucket picks the variant of a fractional split for a subject, as flagd
// does: murmur3 of flag key and targeting key, into 100 buckets.
func (r Rule) bucket(flag, key string) string {
	total := 0
	for _, s := range r.Split {
		total += s.Weight
	}
	if total == 0 || len(r.Split) == 0 {
		return ""
	}
	h := murmur3.Sum32([]byte(flag + key))
	b := int(float64(h) / float64(^uint32(0)) * float64(total))
	for _, s := range r.Split {
		if b < s.Weight {
			return s.Variant
		}
		b -= s.Weight
	}
	return r.Split[len(r.Split)-1].Variant
}

// SplitTargeting is the fractional targeting of a percentage rollout.
func SplitTargeting(percent int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"fractional": []any{[]any{VariantOn, percent}, []any{VariantOff, 100 - percent}}})
	return b
}

// SegmentTargeting is the targeting of a segment rollout.
func SegmentTargeting(segments []string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"if": []any{
		map[string]any{"in": []any{map[string]any{"var": "segment"}, segments}}, VariantOn, VariantOff}})
	return b
}
