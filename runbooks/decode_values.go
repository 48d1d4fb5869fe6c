package runbooks

import (
	"math"
	"reflect"

	"gopkg.in/yaml.v3"
)

// pair is one key: value entry of a mapping, with the key already
// resolved and the position where it was written.
type pair struct {
	key, val *yaml.Node
	at       pos
	merged   bool // brought in by a merge key
}

// pairs returns the entries of mapping m in order, reporting duplicate and
// non-text keys. Merge keys ("<<: *defaults") are expanded; as YAML
// specifies, keys written in m win over merged ones, and among merged
// mappings the first one wins.
func (d *decoder) pairs(m *yaml.Node, depth int) []pair {
	var own, merged []pair
	first := map[string]pos{}
	for i := 0; i+1 < len(m.Content) && !d.aborted; i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSource(v, depth)...)
			continue
		}
		kr := d.resolve(k)
		if kr == nil {
			return nil
		}
		if kr.Kind != yaml.ScalarNode || isNull(kr) {
			d.c.addf(at(k), "keys must be plain names; got %s", describe(kr))
			continue
		}
		if f, dup := first[kr.Value]; dup {
			d.c.addf(at(k), "key %q is defined twice; the first one is at line %d", kr.Value, f.line)
			continue
		}
		first[kr.Value] = at(k)
		own = append(own, pair{key: kr, val: v, at: at(k)})
	}
	for _, p := range merged {
		if _, dup := first[p.key.Value]; !dup {
			first[p.key.Value] = p.at
			own = append(own, p)
		}
	}
	return own
}

// mergeSource returns the entries a merge key brings in: those of one
// mapping or of a list of mappings.
func (d *decoder) mergeSource(v *yaml.Node, depth int) []pair {
	if depth > maxDepth {
		d.abort(v, "merge keys (<<) are nested more than %d levels deep", maxDepth)
		return nil
	}
	r := d.resolve(v)
	if r == nil {
		return nil
	}
	switch r.Kind {
	case yaml.MappingNode:
		return markMerged(d.pairs(r, depth+1))
	case yaml.SequenceNode:
		var all []pair
		for _, el := range r.Content {
			er := d.resolve(el)
			if er == nil {
				return nil
			}
			if er.Kind != yaml.MappingNode {
				d.c.addf(at(el), "a merge (<<) takes a mapping or a list of mappings; got %s", describe(er))
				continue
			}
			all = append(all, d.pairs(er, depth+1)...)
		}
		return markMerged(all)
	default:
		d.c.addf(at(v), "a merge (<<) takes a mapping or a list of mappings; got %s", describe(r))
		return nil
	}
}

func markMerged(ps []pair) []pair {
	for i := range ps {
		ps[i].merged = true
	}
	return ps
}

// scalar decodes a string, integer, float or boolean. A null leaves the
// zero value, which means "not set" everywhere in the schema.
func (d *decoder) scalar(r *yaml.Node, v reflect.Value, path, label string) bool {
	if isNull(r) {
		return true
	}
	switch v.Kind() {
	case reflect.String:
		return d.text(r, v, path, label)
	case reflect.Int, reflect.Int64:
		return d.integer(r, v, label)
	case reflect.Bool:
		return d.boolean(r, v, label)
	case reflect.Float64:
		return d.float(r, v, label)
	default:
		// Only reachable if types.go gains a field of a new Go type.
		panic("runbooks: cannot decode into " + v.Type().String())
	}
}

// textTags are the scalar types that read naturally as text: `version:
// 1.10` or `from: 2025-12-24` are meant as the strings written.
var textTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!timestamp": true}

func (d *decoder) text(r *yaml.Node, v reflect.Value, path, label string) bool {
	if r.Kind != yaml.ScalarNode {
		d.typeError(r, label, "text")
		return false
	}
	if !textTags[r.ShortTag()] {
		d.c.addf(at(r), "%s: the tag %s is not supported here; write plain text", label, r.Tag)
		return false
	}
	for _, msg := range variableProblems(path, r.Value) {
		d.c.addf(at(r), "%s: %s", label, msg)
	}
	d.recordSlotUse(path, r.Value)
	v.SetString(r.Value)
	return true
}

func (d *decoder) integer(r *yaml.Node, v reflect.Value, label string) bool {
	var i int64
	if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!int" {
		d.typeError(r, label, "a whole number")
		return false
	}
	if err := r.Decode(&i); err != nil || v.OverflowInt(i) {
		d.c.addf(at(r), "%s: %s is too large", label, r.Value)
		return false
	}
	v.SetInt(i)
	return true
}

func (d *decoder) boolean(r *yaml.Node, v reflect.Value, label string) bool {
	var b bool
	if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!bool" || r.Decode(&b) != nil {
		d.typeError(r, label, "true or false")
		return false
	}
	v.SetBool(b)
	return true
}

func (d *decoder) float(r *yaml.Node, v reflect.Value, label string) bool {
	var f float64
	tag := r.ShortTag()
	if r.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || r.Decode(&f) != nil {
		d.typeError(r, label, "a number")
		return false
	}
	// JSON has no NaN or infinity, and the runbook travels as JSON.
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.c.addf(at(r), "%s must be a finite number; got %s", label, r.Value)
		return false
	}
	v.SetFloat(f)
	return true
}

// duration decodes a Duration from text such as "30s" or "2d".
func (d *decoder) duration(r *yaml.Node, v reflect.Value, label string) bool {
	if isNull(r) {
		return true
	}
	if r.Kind != yaml.ScalarNode {
		d.typeError(r, label, "a duration like 30s, 5m, 1h30m or 2d")
		return false
	}
	dur, err := ParseDuration(r.Value)
	if err != nil {
		d.c.addf(at(r), "%s: %v", label, err)
		return false
	}
	v.SetInt(int64(dur))
	return true
}

// recordSlotUse notes the known slot variables s uses, for the validator.
func (d *decoder) recordSlotUse(path, s string) {
	var names []string
	for _, name := range variableRefs(s) {
		if isSlotVariable(name) && isKnownVariable(name) {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		d.slotUses = append(d.slotUses, slotUse{path: path, names: names})
	}
}
