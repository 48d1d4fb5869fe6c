package metrics

import (
	"bytes"
	"encoding/json"
	"math"
)

// Number is a float64 that survives JSON, the format Temporal stores results
// in: NaN and infinities (no measurement) encode as null and decode as NaN.
// encoding/json refuses NaN outright, which would fail the whole activity.
type Number float64

// MarshalJSON encodes NaN and infinities as null.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON decodes null as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}
