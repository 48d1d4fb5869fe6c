package workflows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestUpdateHelpPayloadsDecode checks every payload the Web UI help shows
// against the input type its handler decodes, field by field.
func TestUpdateHelpPayloadsDecode(t *testing.T) {
	help := UpdateHelp("release/checkout/1.0.0", []string{"deploy/checkout/staging"})
	row := regexp.MustCompile("(?m)^\\| ([a-z-]+) \\| [^|]+ \\| `(\\{.*\\})` \\|$")
	rows := row.FindAllStringSubmatch(help, -1)
	if len(rows) != len(updateExamples) {
		t.Fatalf("%d payload rows, want %d:\n%s", len(rows), len(updateExamples), help)
	}
	for i, r := range rows {
		u := updateExamples[i]
		if r[1] != u.name {
			t.Errorf("row %d is %s, want %s", i, r[1], u.name)
		}
		into := reflect.New(reflect.TypeOf(u.payload))
		dec := json.NewDecoder(bytes.NewReader([]byte(r[2])))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into.Interface()); err != nil {
			t.Errorf("%s payload %s: %v", u.name, r[2], err)
		}
	}
	for _, want := range []string{"deploy/checkout/staging", "runbook approve release/checkout/1.0.0", "identity: signed"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
