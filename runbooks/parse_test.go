package runbooks

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.golden from the current output")

const examplePath = "examples/checkout.yaml"

func TestExampleIsValid(t *testing.T) {
	rb, err := Load(examplePath)
	if err != nil {
		t.Fatalf("the shipped example does not validate:\n%v", err)
	}
	if rb.Service != "checkout" || rb.Owner != "team-payments" || rb.Artifact.Reference != "../../bin/sampleapp" {
		t.Errorf("header fields = %q %q %q", rb.Service, rb.Owner, rb.Artifact.Reference)
	}
	if rb.Artifact.Digest != "" {
		t.Error("the example must leave the digest to deploy time")
	}
	var names []string
	for _, e := range rb.Environments {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "staging,production" {
		t.Fatalf("environments = %s, want staging,production", got)
	}
	// The expand migration runs before provision: the new version starts on
	// a schema that already has its column.
	const common = "schema:migrate,provision:provision,smoke:http-check,version:http-check,orders:http-check"
	for i, want := range []string{common, common + ",confirm:approval,final-smoke:http-check"} {
		var steps []string
		for _, s := range rb.Environments[i].Steps {
			steps = append(steps, s.Name+":"+s.Kind())
		}
		if got := strings.Join(steps, ","); got != want {
			t.Errorf("%s steps = %s, want %s", names[i], got, want)
		}
	}
	prod := rb.Environments[1]
	gate := prod.Approvals[0]
	if gate.Name != "release-manager" || gate.MinApprovals != 1 || gate.Timeout.D() != time.Hour || len(gate.Approvers) != 3 {
		t.Errorf("release-manager gate = %+v", gate)
	}
	if c := prod.Steps[5].Approval; c == nil || c.Timeout.D() != 30*time.Minute || c.Instructions != "Check the dashboards, then confirm" {
		t.Errorf("confirm step = %+v", c)
	}
	if v := rb.Environments[0].Steps[3].HTTPCheck; v == nil || v.ExpectBody != "${version}" || v.URL != "${outputs.url}/version" {
		t.Errorf("staging version check = %+v", v)
	}
	for _, e := range rb.Environments {
		envVar := "CHECKOUT_" + strings.ToUpper(e.Name) + "_DB"
		if e.Infra == nil || e.Infra.Module != "../../infra/local" || e.Infra.Vars["binary"] != "${artifact}" || e.Infra.OnRollback != "restore" ||
			e.Infra.Vars["db_path"] != "env:"+envVar+"_PATH" {
			t.Errorf("%s infra = %+v", e.Name, e.Infra)
		}
		if db := e.Database; db == nil || db.URL != "env:"+envVar || db.Driver != "sqlite" || db.Migrations != "migrations/checkout" {
			t.Errorf("%s database = %+v, want url env:%s, driver sqlite, migrations migrations/checkout", e.Name, db, envVar)
		}
		if db := e.Database; db != nil {
			checkExampleMigrations(t, filepath.Join(filepath.Dir(examplePath), db.Migrations))
		}
		if m := e.Steps[0].Migrate; m == nil || m.Phase != "expand" || m.To != 0 {
			t.Errorf("%s schema step = %+v, want an expand migration to the latest version", e.Name, m)
		}
		o := e.Steps[4].HTTPCheck
		if o == nil || o.URL != "${outputs.url}/orders" || o.Method != "POST" || o.Body != `{"item":"book","note":"gift wrap"}` ||
			o.ExpectStatus != 201 || o.ExpectBody != `"note":"gift wrap"` {
			t.Errorf("%s orders check = %+v", e.Name, o)
		}
	}
	if w := rb.Environments[0].ReleaseWindow; w == nil || w.End != "24:00" || len(w.Days) != 7 {
		t.Errorf("staging window = %+v", w)
	}
}

// checkExampleMigrations: the example's migrations exist in up/down pairs,
// and each up file carries the marker that lets a rollback migrate down.
func checkExampleMigrations(t *testing.T, dir string) {
	t.Helper()
	ups, err := filepath.Glob(filepath.Join(dir, "*.up.sql"))
	if err != nil || len(ups) != 2 {
		t.Fatalf("up migrations in %s = %v (%v), want 2", dir, ups, err)
	}
	for _, up := range ups {
		text, err := os.ReadFile(up)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), "\n-- runbook: reversible\n") {
			t.Errorf("%s has no line -- runbook: reversible", up)
		}
		if _, err := os.Stat(strings.TrimSuffix(up, ".up.sql") + ".down.sql"); err != nil {
			t.Errorf("%s has no down file: %v", up, err)
		}
	}
}

// The resolved runbook travels as JSON inside the workflow input; nothing
// may be lost on the way.
func TestExampleJSONRoundTrip(t *testing.T) {
	rb, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	assertJSONRoundTrip(t, rb)
}

func assertJSONRoundTrip(t testing.TB, rb *Runbook) {
	t.Helper()
	b, err := json.Marshal(rb)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	var back Runbook
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(*rb, back) {
		t.Fatalf("JSON round trip changed the runbook\nbefore: %#v\nafter:  %#v\njson: %s", *rb, back, b)
	}
}

// Each invalid file's full problem list is pinned in a golden file: this
// asserts that every problem is found, not just the first, and where.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load: %T %v, want Problems", err, err)
			}
			got := ps.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// The positions the task singles out, asserted directly rather than only
// through the golden files.
func TestProblemPositions(t *testing.T) {
	load := func(name string) Problems {
		_, err := Load("testdata/invalid/" + name)
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatalf("Load(%s) = %v, want Problems", name, err)
		}
		return ps
	}
	ps := load("unknown_key.yaml")
	wantProblem(t, ps, `testdata/invalid/unknown_key.yaml:2:1: unknown key "sevice"; did you mean "service"?`)
	wantProblem(t, ps, `testdata/invalid/unknown_key.yaml:12:11: unknown key "timout"; did you mean "timeout"?`)
	wantProblemContaining(t, ps, "testdata/invalid/unknown_key.yaml:13:11", `unknown key "foo"; valid keys here are: url, method,`)

	ps = load("duplicate_key.yaml")
	wantProblem(t, ps, `testdata/invalid/duplicate_key.yaml:4:1: key "service" is defined twice; the first one is at line 2`)
	wantProblem(t, ps, `testdata/invalid/duplicate_key.yaml:15:13: key "Accept" is defined twice; the first one is at line 14`)

	ps = load("traffic.yaml")
	wantProblem(t, ps, `testdata/invalid/traffic.yaml:11:17: traffic provider "hapoxy" is not supported; did you mean "haproxy"? (use edge, haproxy, alb or route53)`)
	wantProblem(t, ps, `testdata/invalid/traffic.yaml:41:9: step "more": an environment has one traffic step, and step "shift" (canary) at line 34 already moves the traffic; remove one of them or move it to another environment`)
	wantProblem(t, ps, `testdata/invalid/traffic.yaml:51:9: blue-green step "cut-over" moves traffic, so it needs a router; add a traffic section to environment "production" (traffic: {provider: edge, slots: {blue: {}, green: {}}})`)
	wantProblem(t, ps, `testdata/invalid/traffic.yaml:44:16: ${slot.urll}: the slots of environment "staging" have no key "urll"; did you mean ${slot.url}?`)

	ps = load("syntax.yaml")
	if len(ps) != 1 {
		t.Errorf("syntax error gave %d problems, want 1:\n%v", len(ps), ps)
	}
	wantProblemContaining(t, ps, "testdata/invalid/syntax.yaml:3", "YAML syntax error: mapping values are not allowed in this context")

	if ps := load("many_problems.yaml"); len(ps) < 30 {
		t.Errorf("many_problems.yaml gave only %d problems; every problem must be reported:\n%v", len(ps), ps)
	}
}

func TestSyntaxErrorLines(t *testing.T) {
	tests := []struct {
		name, src, where, fragment string
	}{
		// A scanner error: yaml.v3 already counts from 1.
		{"scanner", "a: 1\nb:\n- x\n y: 2\n", "s.yaml:4", "mapping values are not allowed"},
		// A parser error: yaml.v3 counts from 0; the list opens on line 2.
		{"parser", "x: 1\ny: [a, b\nz: 3\n", "s.yaml:2", "did not find expected ',' or ']'; a [ list ] is not closed"},
		{"block", "a:\n  - b\n  c: d\n", "s.yaml:2", "did not find expected '-' indicator"},
		// No line in the message means the first line.
		{"first line", "a: b: c\n", "s.yaml:1", "mapping values are not allowed"},
		{"tab", "a: 1\n\tb: 2\n", "s.yaml:2", "indent with spaces, not tabs"},
		{"unclosed quote", "x: 1\n\ny: \"abc\n", "s.yaml:3", "a quote or bracket is not closed"},
		{"unknown anchor", "a: 1\nb: [x, *nope]\n", "s.yaml:2:8", "*nope refers to an anchor &nope that is not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "s.yaml", tt.src)
			if len(ps) != 1 {
				t.Errorf("got %d problems, want 1: %v", len(ps), ps)
			}
			wantProblemContaining(t, ps, tt.where, "YAML syntax error: ", tt.fragment)
		})
	}
}

func TestInputGuards(t *testing.T) {
	const empty = "s.yaml: file is empty; a runbook needs at least api-version, service, owner, artifact and environments"
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", empty},
		{"blank", " \n\n\t\n", empty},
		{"comments", "# just a comment\n  # another\n", empty},
		{"bare separator", "---\n", empty},
		{"nul byte", "api-version: runbook/v1\nservice: a\x00b\n", "s.yaml: file is not text (binary data at byte 34); runbooks are UTF-8 YAML"},
		{"invalid utf-8", "service: caf\xe9\n", "s.yaml: file is not text (binary data at byte 12); runbooks are UTF-8 YAML"},
		{"utf-16", "\xff\xfea\x00:\x00", "s.yaml: file is not text (binary data at byte 0); runbooks are UTF-8 YAML"},
		{"control character", "service: ok\nowner: a\x07b\n", "s.yaml:2:9: character U+0007 is not allowed in YAML; delete it (invisible control characters often come from copy and paste)"},
		{"two documents", validBase + "---\nservice: other\n", "s.yaml:13:1: a second YAML document starts here; a runbook is a single document, so remove the --- separator and everything after it, or move it to its own file"},
		{"not a mapping", "- a\n- b\n", "s.yaml:1:1: the runbook must be a mapping (key: value lines); got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "s.yaml", tt.src)
			if len(ps) != 1 {
				t.Errorf("got %d problems, want exactly 1:\n%v", len(ps), ps)
			}
			wantProblem(t, ps, tt.want)
		})
	}
}

func TestTrailingEmptyDocumentIsFine(t *testing.T) {
	if _, err := parseSafely(t, "s.yaml", []byte(validBase+"---\n")); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRefusesLargeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	big := []byte(validBase + "# " + strings.Repeat("x", 2<<20) + "\n")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + ": file is larger than 1 MiB; a runbook must be smaller"
	if err == nil || err.Error() != want {
		t.Fatalf("Load(2 MiB) = %v, want %q", err, want)
	}
	// Parse applies the same bound to data that did not come from Load.
	ps := problemsOf(t, "big.yaml", string(big))
	wantProblem(t, ps, "big.yaml: file is larger than 1 MiB; a runbook must be smaller")
}

func TestLoadAcceptsExactlyMaxSize(t *testing.T) {
	data := []byte(validBase + "#")
	data = append(data, []byte(strings.Repeat("x", MaxSize-len(data)-1)+"\n")...)
	if len(data) != MaxSize {
		t.Fatalf("test data is %d bytes", len(data))
	}
	path := filepath.Join(t.TempDir(), "max.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("a runbook of exactly MaxSize bytes is refused: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("Load(missing) = %T %v, want one Problem", err, err)
	}
	if want := "testdata/does-not-exist.yaml: cannot read the runbook: no such file or directory"; ps[0].String() != want {
		t.Errorf("got %q, want %q", ps[0].String(), want)
	}
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(examplePath, data); err != nil {
			b.Fatal(err)
		}
	}
}
