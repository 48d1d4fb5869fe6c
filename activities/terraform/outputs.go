package terraform

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// convertOutputs types the outputs of `output -json`. Sensitive values are
// dropped (the CLI prints them in clear), and so is any value that contains a
// secret read from the environment, which a module forgot to mark sensitive:
// results end up in workflow history.
func convertOutputs(m map[string]tfexec.OutputMeta, secrets []string) map[string]Output {
	out := make(map[string]Output, len(m))
	for name, o := range m {
		v := Output{Type: typeString(o.Type), Sensitive: o.Sensitive}
		if !v.Sensitive && containsSecret(string(o.Value), secrets) {
			v.Sensitive = true
		}
		if !v.Sensitive {
			v.Value = compact(o.Value)
		}
		out[name] = v
	}
	return out
}

// compact removes the CLI's indentation from a JSON value.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// typeString writes a JSON type constraint (`"string"`, `["map","string"]`,
// `["object",{"a":"number"}]`) as the type expression a module author writes:
// string, map(string), object({a=number}).
func typeString(raw json.RawMessage) string {
	var t any
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil {
		return string(raw)
	}
	return typeExpr(t)
}

func typeExpr(t any) string {
	if s, ok := t.(string); ok {
		return s
	}
	if pair, ok := t.([]any); ok && len(pair) >= 2 {
		kind, _ := pair[0].(string)
		switch kind {
		case "list", "set", "map":
			return kind + "(" + typeExpr(pair[1]) + ")"
		case "object":
			if attrs, ok := pair[1].(map[string]any); ok {
				return "object({" + objectAttrs(attrs) + "})"
			}
		case "tuple":
			if elems, ok := pair[1].([]any); ok {
				return "tuple([" + joinTypes(elems) + "])"
			}
		}
	}
	b, _ := json.Marshal(t)
	return string(b)
}

func objectAttrs(attrs map[string]any) string {
	parts := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+typeExpr(attrs[k]))
	}
	return strings.Join(parts, ", ")
}

func joinTypes(elems []any) string {
	parts := make([]string, len(elems))
	for i, e := range elems {
		parts[i] = typeExpr(e)
	}
	return strings.Join(parts, ", ")
}
