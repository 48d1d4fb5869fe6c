package trains

import (
	"strings"
	"testing"
)

const goodTrain = `api-version: runbook/v1
train: shop
environments: [staging, production]
gates:
  production:
    - {name: cab, approvers: [group:cab], timeout: 4h}
services:
  - {name: db, runbook: db.yaml, version: 1.2.0}
  - {name: api, runbook: api.yaml, version: 2.0.0, after: [db]}
`

func TestParseGoodTrain(t *testing.T) {
	f, err := Parse("train.yaml", []byte(goodTrain))
	if err != nil {
		t.Fatal(err)
	}
	if f.Scope() != "dependents" || len(f.Gates["production"]) != 1 || f.Gates["production"][0].Timeout.D().Hours() != 4 {
		t.Errorf("parsed %+v", f)
	}
	if got := f.RunbookPath(1); got != "api.yaml" {
		t.Errorf("runbook path %q", got)
	}
}

// TestParseRefusesWithPositions: each mistake is named at its line:col.
func TestParseRefusesWithPositions(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"cycle", strings.Replace(goodTrain, "version: 1.2.0}", "version: 1.2.0, after: [api]}", 1),
			"train.yaml:8:57: after: makes a cycle (db → api → db)"},
		{"unknown after", strings.Replace(goodTrain, "after: [db]", "after: [web]", 1),
			"train.yaml:9:59: after: names web, which is not a service of this train"},
		{"gate of no environment", strings.Replace(goodTrain, "  production:\n", "  prod:\n", 1),
			"train.yaml:5:3: gates for prod, which is not one of the train's environments"},
		{"bad scope", goodTrain + "rollback-scope: everything\n", "train.yaml:10:1: rollback-scope must be dependents, environment or none"},
		{"unknown field", goodTrain + "colour: blue\n", "train.yaml:10: field colour"},
		{"bad duration", strings.Replace(goodTrain, "4h", "4 hours", 1), "is not a duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("train.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestExampleTrainResolves: the shipped example loads with every runbook
// it names, and storefront (no staging) is released in production only.
func TestExampleTrainResolves(t *testing.T) {
	f, err := Load("../../runbooks/examples/train.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := "sha256:" + strings.Repeat("a", 64)
	if err := f.Override(nil, map[string]string{"checkout": d, "storefront": d}); err != nil {
		t.Fatal(err)
	}
	in, err := Resolve(f, "2026-12-w50", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Services) != 2 || in.Services[1].After[0] != "checkout" || in.Scope != "dependents" || len(in.Gates) != 1 {
		t.Errorf("resolved %+v", in)
	}
	if err := f.Override(map[string]string{"payments": "1.0.0"}, nil); err == nil || !strings.Contains(err.Error(), "no service payments") {
		t.Errorf("override of an unknown service: %v", err)
	}
}
