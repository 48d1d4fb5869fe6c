package runbooks

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// The decoder walks the yaml.Node tree and fills the typed structs by
// reflection on their yaml tags. yaml.v3's own Decode stops at the first
// type error and forgets positions; walking the tree ourselves lets Parse
// report every problem with its line and column, and lets the validator
// find where each field was written.

// Limits on the walk. Aliases make a small file stand for a huge tree (the
// "billion laughs" attack), so expansions and visited nodes are counted;
// the depth bound protects against recursion should the types ever become
// recursive.
const (
	maxAliasExpansions = 10000
	maxExpandedNodes   = 100000
	maxNodes           = 1000000
	maxDepth           = 64
)

// loc records where a field or list entry was written: key is the key's
// position (the entry itself for list entries), val the value's. bad marks
// values that had the wrong type, so the validator does not report them a
// second time as missing or empty; null marks a key written without a
// value, which means "use the default".
type loc struct {
	key, val  pos
	bad, null bool
}

// newLoc records the entry whose key is at k and whose value is n.
func (d *decoder) newLoc(path string, k pos, n *yaml.Node) *loc {
	l := &loc{key: k, val: at(n)}
	// Peek through an alias without counting it; resolve counts the
	// expansion when the value is decoded.
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	l.null = isNull(n)
	d.locs[path] = l
	return l
}

// decoder holds the state of one walk.
type decoder struct {
	c *collector
	// locs maps a field path such as "environments[1].steps[0].http-check.url"
	// to where it was written; absent paths were not written.
	locs    map[string]*loc
	aliases int // alias expansions so far
	nodes   int // nodes visited so far
	// expanding is how many aliases (or merge keys) the walk is inside;
	// expanded counts the nodes visited there. Hand-written YAML is
	// bounded by MaxSize, so this is the count an alias bomb inflates.
	expanding, expanded int
	aborted             bool
	// slotUses are the texts that use slot variables, in document order;
	// only the validator knows whether their environment has the slots.
	slotUses []slotUse
}

// slotUse is a text at path using the slot variables names.
type slotUse struct {
	path  string
	names []string
}

func newDecoder(c *collector) *decoder {
	return &decoder{c: c, locs: map[string]*loc{}}
}

func at(n *yaml.Node) pos { return pos{n.Line, n.Column} }

// decodeRoot decodes the document's root node into rb.
func (d *decoder) decodeRoot(root *yaml.Node, rb *Runbook) {
	d.locs[""] = &loc{key: at(root), val: at(root)}
	if !d.value(root, reflect.ValueOf(rb).Elem(), "", "the runbook", 0) {
		d.locs[""].bad = true
	}
}

// abort stops the walk after a problem that makes going on pointless.
func (d *decoder) abort(n *yaml.Node, format string, args ...any) {
	d.c.addf(at(n), format, args...)
	d.aborted = true
}

// resolve follows aliases to the node they stand for, counting the work
// so an alias bomb is refused instead of expanded. It returns nil after
// aborting.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	orig := n
	for n.Kind == yaml.AliasNode {
		d.aliases++
		if n.Alias == nil { // yaml.v3 refuses unknown anchors; be safe anyway
			d.abort(n, "alias *%s refers to no anchor", n.Value)
			return nil
		}
		if d.aliases > maxAliasExpansions {
			d.abort(n, "too many alias expansions (a YAML alias bomb?); a runbook may expand aliases at most %d times", maxAliasExpansions)
			return nil
		}
		n = n.Alias
	}
	d.nodes++
	if d.expanding > 0 || n != orig {
		d.expanded++
	}
	if d.nodes > maxNodes || d.expanded > maxExpandedNodes {
		d.abort(orig, "too many values once aliases are expanded (a YAML alias bomb?); aliases may stand for at most %d values", maxExpandedNodes)
		return nil
	}
	return n
}

// value decodes n into v. It returns false when n itself had the wrong
// type (problems inside a well-typed mapping or list do not count).
func (d *decoder) value(n *yaml.Node, v reflect.Value, path, label string, depth int) bool {
	if d.aborted {
		return false
	}
	if depth > maxDepth {
		d.abort(n, "the runbook is nested more than %d levels deep", maxDepth)
		return false
	}
	r := d.resolve(n)
	if r == nil {
		return false
	}
	if r != n {
		d.expanding++
		defer func() { d.expanding-- }()
	}
	return d.dispatch(r, v, path, label, depth)
}

// mergedValue decodes the value of a pair, counting values brought in by
// a merge key as alias expansions.
func (d *decoder) mergedValue(p pair, v reflect.Value, path, label string, depth int) bool {
	if p.merged {
		d.expanding++
		defer func() { d.expanding-- }()
	}
	return d.value(p.val, v, path, label, depth)
}

var durationType = reflect.TypeOf(Duration(0))

// dispatch decodes the resolved node r according to v's type.
func (d *decoder) dispatch(r *yaml.Node, v reflect.Value, path, label string, depth int) bool {
	if v.Type() == durationType {
		return d.duration(r, v, label)
	}
	switch v.Kind() {
	case reflect.Pointer:
		return d.pointer(r, v, path, label, depth)
	case reflect.Struct:
		return d.structure(r, v, path, label, depth)
	case reflect.Slice:
		return d.list(r, v, path, label, depth)
	case reflect.Map:
		return d.dict(r, v, path, label, depth)
	default:
		return d.scalar(r, v, path, label)
	}
}

// pointer decodes optional values. A key written with no value still sets
// a pointer to a struct ("approval:" alone is an approval step with every
// default), but leaves *bool and *float64 unset.
func (d *decoder) pointer(r *yaml.Node, v reflect.Value, path, label string, depth int) bool {
	elem := v.Type().Elem()
	if isNull(r) {
		if elem.Kind() == reflect.Struct {
			v.Set(reflect.New(elem))
		}
		return true
	}
	p := reflect.New(elem)
	ok := d.dispatch(r, p.Elem(), path, label, depth)
	// Set even when the value was wrong, so the validator still sees which
	// step kind or section was written.
	v.Set(p)
	return ok
}

// structure decodes a mapping into a struct, field by yaml tag.
func (d *decoder) structure(r *yaml.Node, v reflect.Value, path, label string, depth int) bool {
	if isNull(r) {
		return true
	}
	if r.Kind != yaml.MappingNode {
		d.typeError(r, label, "a mapping (key: value lines)")
		return false
	}
	info := fieldsOf(v.Type())
	for _, p := range d.pairs(r, depth) {
		name := p.key.Value
		idx, ok := info.index[name]
		if !ok {
			d.c.addf(p.at, "%s", unknownKey(name, info.names))
			continue
		}
		child := join(path, name)
		l := d.newLoc(child, p.at, p.val)
		l.bad = !d.mergedValue(p, v.Field(idx), child, strconv.Quote(name), depth+1)
	}
	return true
}

// list decodes a sequence into a slice. The slice is allocated at its
// final length so entries never move while being decoded.
func (d *decoder) list(r *yaml.Node, v reflect.Value, path, label string, depth int) bool {
	if isNull(r) {
		return true
	}
	if r.Kind != yaml.SequenceNode {
		d.typeError(r, label, "a list (lines starting with \"- \")")
		return false
	}
	if len(r.Content) == 0 {
		// Left nil: an empty list means the same as none, and nil survives
		// the JSON round trip of the workflow input unchanged.
		return true
	}
	s := reflect.MakeSlice(v.Type(), len(r.Content), len(r.Content))
	for i, el := range r.Content {
		child := path + "[" + strconv.Itoa(i) + "]"
		l := d.newLoc(child, at(el), el)
		l.bad = !d.value(el, s.Index(i), child, "an entry of "+label, depth+1)
	}
	v.Set(s)
	return true
}

// dict decodes a mapping into a map with string keys.
func (d *decoder) dict(r *yaml.Node, v reflect.Value, path, label string, depth int) bool {
	if isNull(r) {
		return true
	}
	if r.Kind != yaml.MappingNode {
		d.typeError(r, label, "a mapping (name: value lines)")
		return false
	}
	pairs := d.pairs(r, depth)
	if len(pairs) == 0 {
		return true
	}
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	for _, p := range pairs {
		child := join(path, p.key.Value)
		l := d.newLoc(child, p.at, p.val)
		ev := reflect.New(v.Type().Elem()).Elem()
		l.bad = !d.mergedValue(p, ev, child, strconv.Quote(p.key.Value)+" in "+label, depth+1)
		m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
	return true
}

// join builds a field path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// typeError reports a value of the wrong shape.
func (d *decoder) typeError(n *yaml.Node, label, want string) {
	d.c.addf(at(n), "%s must be %s; got %s", label, want, describe(n))
}

// describe names a node's type and value for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "something else"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the text %q", v)
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return v
	case "!!null":
		return "nothing"
	case "!!timestamp":
		return "the date " + v
	default:
		return fmt.Sprintf("%s %q", n.ShortTag(), v)
	}
}

// structInfo lists the yaml keys of a struct type.
type structInfo struct {
	index map[string]int // key -> field index
	names []string       // keys in declaration order, for suggestions
}

var structInfos sync.Map // reflect.Type -> *structInfo

func fieldsOf(t reflect.Type) *structInfo {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo)
	}
	info := &structInfo{index: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		info.index[name] = i
		info.names = append(info.names, name)
	}
	structInfos.Store(t, info)
	return info
}
