// Package jsonpath reads values out of a JSON document with a small
// JSONPath-like expression: the metrics web provider reads numbers with it,
// journeys read the values one request hands to the next.
package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// segment is one step of a Path: a member name, an array index, or the
// wildcard [*] that fans out over every element of an array.
type segment struct {
	key      string
	index    int
	isIndex  bool
	wildcard bool
}

func (s segment) String() string {
	switch {
	case s.wildcard:
		return "[*]"
	case s.isIndex:
		return "[" + strconv.Itoa(s.index) + "]"
	default:
		return strconv.Quote(s.key)
	}
}

// Path is a parsed JSONPath-like expression: $ followed by .name, ["name"]
// or ['name'], [N] (N >= 0) and at most one [*]. It is the small subset
// dashboards' APIs need to reach one number or one list of numbers; filters,
// slices and recursive descent are not supported, so a path means one thing.
type Path struct {
	raw  string
	segs []segment
}

func (p Path) String() string { return p.raw }

// Wildcard reports whether the path has [*], so it selects a list.
func (p Path) Wildcard() bool {
	for _, s := range p.segs {
		if s.wildcard {
			return true
		}
	}
	return false
}

// Parse parses a path such as $.data.errorRate, $.a[0].b, $.a["k-1"]
// or $.series[*].value.
func Parse(raw string) (Path, error) {
	p := Path{raw: raw}
	rest, ok := strings.CutPrefix(raw, "$")
	if !ok {
		return Path{}, fmt.Errorf("JSON path %q must start with $, e.g. $.data.value", raw)
	}
	for rest != "" {
		seg, n, err := nextSegment(rest)
		if err != nil {
			return Path{}, fmt.Errorf("JSON path %q: %w", raw, err)
		}
		if seg.wildcard && p.Wildcard() {
			return Path{}, fmt.Errorf("JSON path %q has more than one [*]; one list of values is what a path selects", raw)
		}
		p.segs = append(p.segs, seg)
		rest = rest[n:]
	}
	return p, nil
}

// nextSegment reads the segment at the start of s and how many bytes it took.
func nextSegment(s string) (segment, int, error) {
	switch s[0] {
	case '.':
		n := 1
		for n < len(s) && s[n] != '.' && s[n] != '[' {
			n++
		}
		if n == 1 {
			return segment{}, 0, fmt.Errorf("empty name after '.' at %q", s)
		}
		return segment{key: s[1:n]}, n, nil
	case '[':
		end := strings.IndexByte(s, ']')
		if len(s) > 1 && (s[1] == '"' || s[1] == '\'') {
			end = closingQuote(s, s[1])
		}
		if end < 0 {
			return segment{}, 0, fmt.Errorf("'[' at %q is not closed", s)
		}
		seg, err := bracket(s[1:end])
		return seg, end + 1, err
	default:
		return segment{}, 0, fmt.Errorf("expected '.' or '[' at %q", s)
	}
}

// closingQuote returns the index of the ']' after the quoted name that
// starts at s[1], or -1.
func closingQuote(s string, q byte) int {
	for i := 2; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == ']' {
				return i + 1
			}
			return -1
		}
	}
	return -1
}

// bracket reads what is between [ and ]: *, an index or a quoted name.
func bracket(in string) (segment, error) {
	switch {
	case in == "*":
		return segment{wildcard: true}, nil
	case strings.HasPrefix(in, `"`):
		var k string
		if err := json.Unmarshal([]byte(in), &k); err != nil {
			return segment{}, fmt.Errorf("bad quoted name [%s]: %v", in, err)
		}
		return segment{key: k}, nil
	case strings.HasPrefix(in, "'"):
		return segment{key: strings.ReplaceAll(in[1:len(in)-1], `\'`, "'")}, nil
	}
	i, err := strconv.Atoi(in)
	if err != nil || i < 0 {
		return segment{}, fmt.Errorf("[%s] is not an index (0, 1, ...), a quoted name or *", in)
	}
	return segment{index: i, isIndex: true}, nil
}

// ErrMissing marks a path that leads nowhere in this document: the data may
// not be there yet, so it is inconclusive, not a failure.
var ErrMissing = errors.New("missing")

// Select evaluates p on a document decoded with json.Decoder.UseNumber. A
// path without [*] yields one value; with it, one per element of the array
// (elements where the rest of the path is missing are skipped).
func (p Path) Select(doc any) ([]any, error) {
	return selectSegs(doc, p.segs)
}

func selectSegs(v any, segs []segment) ([]any, error) {
	for i, s := range segs {
		switch {
		case s.wildcard:
			arr, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("[*] needs an array, found %s", Kind(v))
			}
			out := []any{}
			for _, el := range arr {
				got, err := selectSegs(el, segs[i+1:])
				if errors.Is(err, ErrMissing) {
					continue
				}
				if err != nil {
					return nil, err
				}
				out = append(out, got...)
			}
			return out, nil
		case s.isIndex:
			arr, ok := v.([]any)
			if !ok {
				return nil, missingOrWrong(v, s, "an array")
			}
			if s.index >= len(arr) {
				return nil, fmt.Errorf("%w: index %d of an array of %d", ErrMissing, s.index, len(arr))
			}
			v = arr[s.index]
		default:
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, missingOrWrong(v, s, "an object")
			}
			if v, ok = obj[s.key]; !ok {
				return nil, fmt.Errorf("%w: no member %s", ErrMissing, s)
			}
		}
	}
	return []any{v}, nil
}

// missingOrWrong: stepping into null is missing data; into a number or a
// string, the path does not fit the document's shape.
func missingOrWrong(v any, s segment, want string) error {
	if v == nil {
		return fmt.Errorf("%w: %s of null", ErrMissing, s)
	}
	return fmt.Errorf("%s needs %s, found %s", s, want, Kind(v))
}

// Kind names the JSON type of v as messages say it ("a string", "null").
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
