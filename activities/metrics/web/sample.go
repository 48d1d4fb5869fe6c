package web

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/jsonpath"
)

// number reads a JSON number or a numeric string ("0.25", "NaN"). ok is
// false for null and NaN, which are no measurement; other types are errors.
func number(v any) (f float64, ok bool, err error) {
	var s string
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false, fmt.Errorf("found %s, not a number", jsonpath.Kind(v))
	}
	f, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%q is not a number", s)
	}
	return f, !math.IsNaN(f), nil
}

// sample turns the values a path selected into a Sample: one value, or with
// [*] every numeric element (Values; Value is the last one).
func sample(p jsonpath.Path, vals []any) (metrics.Sample, error) {
	if !p.Wildcard() {
		f, ok, err := number(vals[0])
		if err != nil {
			return metrics.Sample{}, fmt.Errorf("%s: %w", p, err)
		}
		if !ok {
			return metrics.Sample{}, metrics.Inconclusivef("%s is null or NaN (no data yet?)", p)
		}
		return metrics.Sample{Value: f}, nil
	}
	var s metrics.Sample
	for i, v := range vals {
		f, ok, err := number(v)
		if err != nil {
			return metrics.Sample{}, fmt.Errorf("%s: element %d: %w", p, i, err)
		}
		if ok {
			s.Values = append(s.Values, f)
			s.Value = f
		}
	}
	if len(s.Values) == 0 {
		return metrics.Sample{}, metrics.Inconclusivef("%s selected no numbers (%d elements, all null, NaN or missing)", p, len(vals))
	}
	return s, nil
}
