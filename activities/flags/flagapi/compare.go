package flagapi

import (
	"encoding/json"
	"reflect"
)

// Same compares two definitions by meaning: existence and the provider's
// document as JSON values (key order and spacing aside).
func Same(a, b Definition) bool {
	if a.Exists != b.Exists {
		return false
	}
	if !a.Exists {
		return true
	}
	var x, y any
	if json.Unmarshal(a.Raw, &x) != nil || json.Unmarshal(b.Raw, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Empty reports a JSON value flag systems treat as not given: null, "",
// false, [] or {}. Providers drop such members so two reads of the same
// configuration compare equal.
func Empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
