package terraform

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var hashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkOutputs checks the fixture's outputs after releasing version.
func checkOutputs(t *testing.T, outs map[string]Output, version string) {
	t.Helper()
	want := map[string]Output{
		"version":  {Type: "string", Value: json.RawMessage(`"` + version + `"`)},
		"replicas": {Type: "number", Value: json.RawMessage(`2`)},
		"labels":   {Type: "object({service=string, version=string})", Value: json.RawMessage(`{"service":"checkout","version":"` + version + `"}`)},
		"label":    {Type: "string", Value: json.RawMessage(`""`)},
		"token":    {Type: "string", Sensitive: true},
	}
	for name, w := range want {
		got, ok := outs[name]
		if !ok || got.Type != w.Type || got.Sensitive != w.Sensitive || string(got.Value) != string(w.Value) {
			t.Errorf("output %s = %+v (%s), want %+v (%s)", name, got, got.Value, w, w.Value)
		}
	}
	if len(outs) != len(want) {
		t.Errorf("outputs %v, want %d", slices.Sorted(maps.Keys(outs)), len(want))
	}
}

// TestReleaseLifecycle plans, applies, reads outputs, releases a new version
// (a replacement) and destroys, on real OpenTofu.
func TestReleaseLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws1 := f.ws("1.0.0")
	p1 := f.plan(ws1)
	if !p1.Changes || p1.Summary.Add != 2 || p1.Summary.Destructive() || p1.Previous != nil || p1.PreviousVersion != "" {
		t.Fatalf("first plan %+v", p1)
	}
	if !hashRE.MatchString(p1.PlanHash) || filepath.Dir(p1.PlanFile) != f.workdir() {
		t.Errorf("plan file %s hash %s", p1.PlanFile, p1.PlanHash)
	}
	if fi, err := os.Stat(p1.PlanFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file: %v, mode %v; want 0600 (it holds variable values)", err, fi.Mode())
	}
	if _, ok := f.deployed(); ok {
		t.Fatal("planning deployed something")
	}

	res := f.apply(ws1, p1)
	if got, _ := f.deployed(); got != "1.0.0" {
		t.Errorf("deployed %q, want 1.0.0", got)
	}
	if res.Applied != 2 || res.Total != 2 {
		t.Errorf("applied %d of %d, want 2 of 2", res.Applied, res.Total)
	}
	checkOutputs(t, res.Outputs, "1.0.0")
	outs, err := f.a.Outputs(t.Context(), OutputsInput{Workspace: ws1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(outs.Outputs, res.Outputs) {
		t.Errorf("Outputs() = %v, want what Apply returned %v", outs.Outputs, res.Outputs)
	}
	if _, err := os.Stat(p1.PlanFile); !os.IsNotExist(err) {
		t.Errorf("applied plan file still there: %v", err)
	}

	ws2 := f.ws("2.0.0")
	p2 := f.plan(ws2)
	if p2.Summary.Replace != 2 || !p2.Summary.Destructive() || !strings.Contains(p2.Summary.String(), "terraform_data.release (replace)") {
		t.Errorf("second plan summary %q, want 2 replacements", p2.Summary)
	}
	if !reflect.DeepEqual(p2.Previous, ws1.Vars) || p2.PreviousVersion != "1.0.0" {
		t.Errorf("previous %v %q, want %v 1.0.0", p2.Previous, p2.PreviousVersion, ws1.Vars)
	}
	f.apply(ws2, p2)
	if got, _ := f.deployed(); got != "2.0.0" {
		t.Errorf("deployed %q, want 2.0.0", got)
	}
	if p := f.plan(ws2); p.Changes || len(p.Summary.Resources) != 0 {
		t.Errorf("plan after release: %+v, want no changes", p)
	}

	d, err := f.a.Destroy(t.Context(), DestroyInput{Workspace: ws2})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.deployed(); ok || d.Destroyed != 2 {
		t.Errorf("after destroy: %d destroyed, file exists %v; want 2 and gone", d.Destroyed, ok)
	}
	if _, err := os.Stat(filepath.Join(f.workdir(), recordName)); !os.IsNotExist(err) {
		t.Errorf("record survived destroy: %v", err)
	}
	if p := f.plan(ws2); p.Previous != nil || p.Summary.Add != 2 {
		t.Errorf("plan after destroy: %+v, want a first release", p)
	}
}

// TestStalePlanRefused applies plan A, then the older plan B: OpenTofu
// refuses B and the state stays as A left it.
func TestStalePlanRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.release(f.ws("0.9.0"))
	wsB, wsA := f.ws("1.0.0"), f.ws("1.1.0")
	pB := f.plan(wsB)
	pA := f.plan(wsA)
	f.apply(wsA, pA)

	_, err := f.a.Apply(t.Context(), ApplyInput{Workspace: wsB, PlanFile: pB.PlanFile, PlanHash: pB.PlanHash})
	ae := appErr(t, err, ErrPlanStale, true)
	if !strings.Contains(ae.Error(), "Saved plan is stale") || !strings.Contains(ae.Error(), "plan again") {
		t.Errorf("message %q", ae.Error())
	}
	if got, _ := f.deployed(); got != "1.1.0" {
		t.Errorf("deployed %q after the refused plan, want 1.1.0", got)
	}
	outs, err := f.a.Outputs(t.Context(), OutputsInput{Workspace: wsA})
	if err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, outs.Outputs, "1.1.0")
	if p := f.plan(wsA); p.Changes {
		t.Errorf("state changed by the refused plan: %s", p.Summary)
	}
}

// TestAlteredOrMissingPlanRefused checks the plan file before OpenTofu sees it.
func TestAlteredOrMissingPlanRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws := f.ws("1.0.0")
	p := f.plan(ws)
	apply := func(file, hash string) error {
		_, err := f.a.Apply(t.Context(), ApplyInput{Workspace: ws, PlanFile: file, PlanHash: hash})
		return err
	}
	appErr(t, apply(p.PlanFile, "sha256:"+strings.Repeat("0", 64)), ErrPlanStale, true)

	other := f.plan(f.ws("6.6.6"))
	b, err := os.ReadFile(other.PlanFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.PlanFile, b, 0o600); err != nil { // swapped for another valid plan
		t.Fatal(err)
	}
	ae := appErr(t, apply(p.PlanFile, p.PlanHash), ErrPlanStale, true)
	if !strings.Contains(ae.Error(), "altered") {
		t.Errorf("message %q does not say the plan was altered", ae.Error())
	}
	if _, ok := f.deployed(); ok {
		t.Error("an altered plan was applied")
	}
	appErr(t, apply("/etc/passwd", p.PlanHash), ErrInvalid, true)
	if err := os.Remove(p.PlanFile); err != nil {
		t.Fatal(err)
	}
	appErr(t, apply(p.PlanFile, p.PlanHash), ErrPlanStale, true)
}

// TestApplyRetryAfterSuccess: a retry of an Apply whose result was lost
// returns the same result instead of failing.
func TestApplyRetryAfterSuccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws := f.ws("1.0.0")
	p, first := f.release(ws)
	again := f.apply(ws, p)
	if !reflect.DeepEqual(first, again) {
		t.Errorf("retry returned %+v, want %+v", again, first)
	}
}

// TestDrift changes the world outside a release and expects Drift to see
// it, and an unreleased module edit not to count.
func TestDrift(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws := f.ws("1.0.0")
	drift := func() DriftResult {
		t.Helper()
		d, err := f.a.Drift(t.Context(), DriftInput{Workspace: ws})
		if err != nil {
			t.Fatal(err)
		}
		if d.Checked.IsZero() {
			t.Error("Checked not set")
		}
		return d
	}
	if d := drift(); d.Drifted {
		t.Errorf("drift before any release: %s", d.Summary)
	}
	f.release(ws)
	if d := drift(); d.Drifted {
		t.Errorf("drift right after the release: %s", d.Summary)
	}
	extra := "\nresource \"terraform_data\" \"unreleased\" {}\n"
	mf, err := os.OpenFile(filepath.Join(f.module, "main.tf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mf.WriteString(extra); err != nil || mf.Close() != nil {
		t.Fatal(err)
	}
	if d := drift(); d.Drifted {
		t.Errorf("an unreleased module edit counted as drift: %s", d.Summary)
	}
	if err := os.Remove(filepath.Join(f.out, "release.txt")); err != nil {
		t.Fatal(err)
	}
	d := drift()
	want := []ResourceChange{{Address: "terraform_data.observed", Action: "replace"}}
	if !d.Drifted || d.Summary.Replace != 1 || !reflect.DeepEqual(d.Summary.Resources, want) {
		t.Errorf("after deleting the deployed file: %+v, want drifted with %v", d, want)
	}
}

// TestInvalidModule: a module error is ErrInvalid, not retried.
func TestInvalidModule(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.module, "bad.tf"), []byte("resource \"terraform_data\" \"x\" {\n  bogus = 1\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := f.a.Plan(t.Context(), PlanInput{Workspace: f.ws("1.0.0")})
	if ae := appErr(t, err, ErrInvalid, true); !strings.Contains(ae.Error(), "Unsupported argument") || !strings.Contains(ae.Error(), "bad.tf line 2") {
		t.Errorf("message %q", ae.Error())
	}
}

// TestMissingBinary: ErrNotFound with the way to install one.
func TestMissingBinary(t *testing.T) {
	t.Parallel()
	a := &Activities{Bin: filepath.Join(t.TempDir(), "tofu"), StateDir: t.TempDir()}
	_, err := a.Plan(t.Context(), PlanInput{Workspace: Workspace{Service: "checkout", Environment: "prod", Module: t.TempDir()}})
	ae := appErr(t, err, ErrNotFound, true)
	for _, s := range []string{"make tools", BinEnv} {
		if !strings.Contains(ae.Error(), s) {
			t.Errorf("message %q does not mention %q", ae.Error(), s)
		}
	}
}
