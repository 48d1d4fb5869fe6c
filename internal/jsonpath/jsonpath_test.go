package jsonpath

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseRefusesWhatItCannotMean(t *testing.T) {
	for _, raw := range []string{"", "v", "$.", "$.a[", "$.a[-1]", "$.a[x]", "$[*][*]", `$["a]`, "$a"} {
		if _, err := Parse(raw); err == nil {
			t.Errorf("Parse(%q): no error", raw)
		}
	}
	p, err := Parse(`$.data["a.b"][2]['c']`)
	if err != nil || len(p.segs) != 4 || p.segs[1].key != "a.b" || !p.segs[2].isIndex || p.segs[3].key != "c" {
		t.Errorf("Parse = %+v, %v", p, err)
	}
}

func TestSelect(t *testing.T) {
	doc := decode(t, `{"data":{"a.b":[0,1,{"c":"x"}]},"list":[{"v":1},{"w":2},{"v":3}],"n":null}`)
	cases := map[string]string{`$.data["a.b"][2]['c']`: "[x]", "$.list[*].v": "[1 3]", "$.list[1].w": "[2]"}
	for raw, want := range cases {
		p, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Select(doc)
		if err != nil || fmtVals(got) != want {
			t.Errorf("%s = %v, %v; want %s", raw, got, err, want)
		}
	}
	for _, raw := range []string{"$.missing", "$.n.x", "$.list[7]"} {
		if _, err := mustParse(t, raw).Select(doc); !errors.Is(err, ErrMissing) {
			t.Errorf("%s: %v, want ErrMissing", raw, err)
		}
	}
	if _, err := mustParse(t, "$.data.x").Select(decode(t, `{"data":"s"}`)); err == nil || errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "a string") {
		t.Errorf("into a string: %v", err)
	}
}

func mustParse(t *testing.T, raw string) Path {
	t.Helper()
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fmtVals(vs []any) string {
	b, _ := json.Marshal(vs)
	return strings.NewReplacer(`"`, "", ",", " ").Replace(string(b))
}
