package releases

import (
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// run is release version's run in production, ended in state, with
// the new version installed in target.
func run(version, state, target string) workflows.ReleaseStatus {
	return workflows.ReleaseStatus{ReleaseID: "release/shop/" + version, Version: version, State: state,
		Environments: []workflows.EnvironmentStatus{{Name: "production", State: state, Traffic: &workflows.TrafficStatus{Target: target}}}}
}

func TestPickRollbackAndPath(t *testing.T) {
	ok, rolled := workflows.StateSucceeded, workflows.StateRolledBack
	for _, c := range []struct {
		name      string
		runs      []workflows.ReleaseStatus
		to        string
		cur, prev string
		path, err string
	}{
		{"last two", []workflows.ReleaseStatus{run("2.0.0", ok, "green"), run("1.0.0", ok, "blue")}, "", "2.0.0", "1.0.0", workflows.RollbackTraffic, ""},
		{"a failed canary since used the slot", []workflows.ReleaseStatus{run("3.0.0", rolled, "blue"), run("2.0.0", ok, "green"), run("1.0.0", ok, "blue")}, "", "2.0.0", "1.0.0", workflows.RollbackFull, ""},
		{"a failed canary in the live slot's other", []workflows.ReleaseStatus{run("3.0.0", rolled, "green"), run("2.0.0", ok, "blue"), run("1.0.0", ok, "green")}, "", "2.0.0", "1.0.0", workflows.RollbackFull, ""},
		{"two back", []workflows.ReleaseStatus{run("3.0.0", ok, "blue"), run("2.0.0", ok, "green"), run("1.0.0", ok, "blue")}, "1.0.0", "3.0.0", "1.0.0", workflows.RollbackFull, ""},
		{"one back of three", []workflows.ReleaseStatus{run("3.0.0", ok, "blue"), run("2.0.0", ok, "green"), run("1.0.0", ok, "blue")}, "", "3.0.0", "2.0.0", workflows.RollbackTraffic, ""},
		{"nothing before", []workflows.ReleaseStatus{run("1.0.0", ok, "blue")}, "", "", "", "", "no earlier version succeeded there"},
		{"still running", []workflows.ReleaseStatus{run("3.0.0", workflows.StateRunning, "blue"), run("2.0.0", ok, "green")}, "", "", "", "", "release/shop/3.0.0 is still running there"},
		{"to the live version", []workflows.ReleaseStatus{run("2.0.0", ok, "green"), run("1.0.0", ok, "blue")}, "2.0.0", "", "", "", "2.0.0 is the live version"},
		{"to one never there", []workflows.ReleaseStatus{run("2.0.0", ok, "green"), run("1.0.0", ok, "blue")}, "0.9.0", "", "", "", "version 0.9.0 never succeeded there"},
	} {
		cur, prev, between, err := pickRollback(c.runs, "production", c.to)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || cur.Version != c.cur || prev.Version != c.prev {
			t.Errorf("%s: %s → %s (%v), want %s → %s", c.name, cur.Version, prev.Version, err, c.cur, c.prev)
			continue
		}
		if path, why := rollbackPath(cur, prev, between, "production", false); path != c.path {
			t.Errorf("%s: path %s (%s), want %s", c.name, path, why, c.path)
		}
	}
}

func TestRollbackRunbookProfile(t *testing.T) {
	rb := runbooks.Runbook{Service: "shop", Policy: runbooks.Policy{Risk: &runbooks.RiskPolicy{}}, Environments: []runbooks.Environment{
		{Name: "staging", Steps: []runbooks.Step{{Name: "deploy", Provision: &runbooks.ProvisionStep{}}}},
		{Name: "production",
			Approvals: []runbooks.Approval{{Name: "cab", Approvers: []string{"alice", "bob"}, MinApprovals: 2, Timeout: runbooks.Duration(time.Hour)},
				{Name: "sre", Approvers: []string{"bob", "group:sre"}, RejectNeedsReason: true}},
			Steps: []runbooks.Step{
				{Name: "deploy", Provision: &runbooks.ProvisionStep{}},
				{Name: "schema", Migrate: &runbooks.MigrateStep{}},
				{Name: "preview", HTTPCheck: &runbooks.HTTPCheckStep{URL: "http://x/version"}},
				{Name: "hold", Approval: &runbooks.ApprovalStep{}},
				{Name: "shift", Canary: &runbooks.CanaryStep{Steps: []runbooks.CanaryWeight{{Weight: 10, Bake: runbooks.Duration(5 * time.Minute)}, {Weight: 100}}, AnalysisInterval: runbooks.Duration(5 * time.Second)}},
			}},
	}}
	out, err := RollbackRunbook(rb, "production", workflows.RollbackTraffic, "2.0.0", "1.0.0", "INC-7")
	if err != nil {
		t.Fatal(err)
	}
	e := out.Environments[0]
	if len(out.Environments) != 1 || e.Name != "production" || out.Policy.Risk != nil {
		t.Fatalf("environments %v, risk %v: want production alone and no risk gates", out.Environments, out.Policy.Risk)
	}
	if g := e.Approvals; len(g) != 1 || g[0].Name != RollbackGate || g[0].MinApprovals != 1 || strings.Join(g[0].Approvers, ",") != "alice,bob,group:sre" ||
		!g[0].RejectNeedsReason || g[0].Timeout.D() != time.Hour || !strings.Contains(g[0].Instructions, "2.0.0 to 1.0.0: INC-7") {
		t.Errorf("gates %+v, want one rollback gate for any one approver", g)
	}
	var names []string
	for _, s := range e.Steps {
		names = append(names, s.Name+":"+s.Kind())
	}
	if got := strings.Join(names, " "); got != "preview:http-check shift:all-at-once" {
		t.Errorf("steps %s, want the check and the traffic step only", got)
	}
	if a := e.Steps[1].AllAtOnce; a.Bake.D() != RollbackMaxBake || a.AnalysisInterval.D() != 5*time.Second {
		t.Errorf("traffic step %+v, want all at once baking 1m every 5s", a)
	}
	full, _ := RollbackRunbook(rb, "production", workflows.RollbackFull, "2.0.0", "1.0.0", "INC-7")
	if s := full.Environments[0].Steps; len(s) != 3 || s[0].Provision == nil {
		t.Errorf("full path steps %+v, want provision kept", s)
	}
	if rb.Environments[1].Approvals[0].Name != "cab" || len(rb.Environments[1].Steps) != 5 {
		t.Error("the source runbook was changed")
	}
}

func TestRollbackProfileFromTheRunbook(t *testing.T) {
	src := `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
environments:
  - name: production
    approvals: [{name: cab, approvers: [alice, bob], min-approvals: 2}]
    rollback-profile: %s
    traffic: {provider: edge, options: {admin: "http://127.0.0.1:1"}, slots: {blue: {}, green: {}}}
    steps:
      - {name: shift, canary: {steps: [{weight: 50, bake: 10m}, {weight: 100}]}}
`
	for _, c := range []struct {
		profile string
		gates   string
		bake    time.Duration
	}{
		{"{max-bake: 30s}", "rollback", 30 * time.Second},
		{"{approvals: [{name: oncall, approvers: [sre]}]}", "oncall", RollbackMaxBake},
		{"{no-gate: true}", "", RollbackMaxBake},
	} {
		rb, err := runbooks.Parse("rb.yaml", []byte(strings.Replace(src, "%s", c.profile, 1)))
		if err != nil {
			t.Fatalf("%s: %v", c.profile, err)
		}
		out, err := RollbackRunbook(*rb, "production", workflows.RollbackTraffic, "2.0.0", "1.0.0", "INC-7")
		if err != nil {
			t.Fatal(err)
		}
		var gates []string
		for _, g := range out.Environments[0].Approvals {
			gates = append(gates, g.Name)
		}
		if got := strings.Join(gates, ","); got != c.gates || out.Environments[0].Steps[0].AllAtOnce.Bake.D() != c.bake {
			t.Errorf("profile %s: gates %q, bake %s; want %q and %s", c.profile, got, out.Environments[0].Steps[0].AllAtOnce.Bake, c.gates, c.bake)
		}
	}
	_, err := runbooks.Parse("rb.yaml", []byte(strings.Replace(src, "%s", "{max-bake: 2h}", 1)))
	if err == nil || !strings.Contains(err.Error(), "max-bake 2h0m0s must be from 1s to 1h") {
		t.Errorf("err = %v, want max-bake capped", err)
	}
}
