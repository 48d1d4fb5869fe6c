package terraform

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// recordedPlan is `tofu show -json` of a plan that creates, updates,
// replaces and deletes terraform_data resources (and leaves 68 unchanged).
const recordedPlan = "testdata/show-plan.json"

func loadPlan(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(recordedPlan)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestSummarizeRecordedPlan(t *testing.T) {
	var p tfjson.Plan
	if err := json.Unmarshal(loadPlan(t), &p); err != nil {
		t.Fatal(err)
	}
	s := summarize(&p)
	if s.Add != 10 || s.Change != 24 || s.Replace != 18 || s.Destroy != 10 || len(s.Resources) != 62 {
		t.Fatalf("summary %d/%d/%d/%d with %d resources, want 10/24/18/10 with 62", s.Add, s.Change, s.Replace, s.Destroy, len(s.Resources))
	}
	for i := 1; i < len(s.Resources); i++ {
		if s.Resources[i-1].Address >= s.Resources[i].Address {
			t.Fatalf("resources not ordered by address at %d: %v", i, s.Resources[i-1:i+1])
		}
	}
	for _, r := range s.Resources {
		if strings.HasPrefix(r.Address, "terraform_data.static") {
			t.Errorf("no-op %s listed", r.Address)
		}
	}
	if !s.Destructive() {
		t.Error("a plan with replacements and deletions is not Destructive")
	}
}

func TestActionOf(t *testing.T) {
	for _, tc := range []struct {
		in   tfjson.Actions
		want string
	}{
		{tfjson.Actions{tfjson.ActionCreate}, "create"},
		{tfjson.Actions{tfjson.ActionUpdate}, "update"},
		{tfjson.Actions{tfjson.ActionDelete}, "delete"},
		{tfjson.Actions{tfjson.ActionDelete, tfjson.ActionCreate}, "replace"},
		{tfjson.Actions{tfjson.ActionCreate, tfjson.ActionDelete}, "replace"},
		{tfjson.Actions{tfjson.ActionRead}, "read"},
		{tfjson.Actions{tfjson.ActionNoop}, ""},
		{tfjson.Actions{tfjson.ActionForget}, "forget"},
	} {
		if got := actionOf(tc.in); got != tc.want {
			t.Errorf("actionOf(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSummaryString(t *testing.T) {
	s := PlanSummary{Add: 2, Replace: 1, Resources: []ResourceChange{
		{"null_resource.a", "create"}, {"null_resource.b", "create"}, {"null_resource.x", "replace"},
	}}
	want := "2 to add, 0 to change, 1 to replace, 0 to destroy: null_resource.a (create), null_resource.b (create), null_resource.x (replace)"
	if got := s.String(); got != want {
		t.Errorf("String() = %q\nwant %q", got, want)
	}
	if got := (PlanSummary{}).String(); got != "0 to add, 0 to change, 0 to replace, 0 to destroy" {
		t.Errorf("empty String() = %q", got)
	}
	var many PlanSummary
	for range maxListed + 5 {
		many.Resources = append(many.Resources, ResourceChange{"a.b", "read"})
	}
	if got := many.String(); !strings.HasSuffix(got, ", and 5 more") {
		t.Errorf("long String() ends %q", got[len(got)-30:])
	}
	if (PlanSummary{Add: 3, Change: 1}).Destructive() {
		t.Error("adds and changes are not destructive")
	}
}

func TestTypeString(t *testing.T) {
	for raw, want := range map[string]string{
		`"string"`:                "string",
		`"number"`:                "number",
		`["map","string"]`:        "map(string)",
		`["list",["set","bool"]]`: "list(set(bool))",
		`["object",{"version":"string","a":"number"}]`: "object({a=number, version=string})",
		`["tuple",["string","number"]]`:                "tuple([string, number])",
		`"dynamic"`:                                    "dynamic",
	} {
		if got := typeString(json.RawMessage(raw)); got != want {
			t.Errorf("typeString(%s) = %q, want %q", raw, got, want)
		}
	}
}

// BenchmarkPlanSummary measures reading a recorded `show -json` document
// (130 KB, 130 resource changes) into a summary, decoding included.
func BenchmarkPlanSummary(b *testing.B) {
	doc := loadPlan(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var p tfjson.Plan
		if err := json.Unmarshal(doc, &p); err != nil {
			b.Fatal(err)
		}
		if s := summarize(&p); len(s.Resources) != 62 {
			b.Fatalf("%d resources", len(s.Resources))
		}
	}
}
