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
