package runbooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// FuzzParse checks Parse's contract on arbitrary input: it never panics
// or hangs; a success is a runbook that survives the JSON round trip of the
// workflow input; a failure is Problems with something to say. Crashers
// the fuzzer finds are kept under testdata/fuzz/FuzzParse as regressions.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("examples/*.yaml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, path := range slices.Concat(seeds, invalid, valid) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(validBase))
	f.Add([]byte(everyField))
	f.Add([]byte(trafficBase))
	f.Add([]byte(mergeBomb()))
	f.Add([]byte("a: &a [*a]\nenvironments: [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, err := parseSafely(t, "fuzz.yaml", data)
		if err != nil {
			checkProblems(t, err)
			return
		}
		if rb == nil {
			t.Fatal("Parse returned neither a runbook nor an error")
		}
		b, err := json.Marshal(rb)
		if err != nil {
			t.Fatalf("valid runbook does not marshal: %v", err)
		}
		var back Runbook
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("valid runbook does not unmarshal: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(*rb, back) {
			t.Fatalf("JSON round trip changed the runbook\nbefore: %#v\nafter:  %#v", *rb, back)
		}
	})
}

func checkProblems(t *testing.T, err error) {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want Problems: %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatal("empty Problems")
	}
	for _, p := range ps {
		if p.Msg == "" || p.File != "fuzz.yaml" || p.Line < 0 || p.Col < 0 {
			t.Fatalf("malformed problem %#v", p)
		}
	}
}
