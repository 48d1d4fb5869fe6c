package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/internal/flagd"
	"github.com/runbookhq/runbook/workflows"
)

// flagRunbook: a release of a feature, not of a version: the sample app
// already runs behind the edge proxy (green live), and the flag step moves
// new-checkout 10% → 50% → 100% under the SLOs measured at the proxy.
const flagRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    identity: unsigned
    traffic:
      provider: edge
      options: {admin: "{{.X.Admin}}", token: env:E2E_EDGE_TOKEN}
      slots:
        blue: {port: "{{.X.Blue}}"}
        green: {port: "{{.X.Green}}"}
    metrics:
      provider: edge
      options: {url: "{{.X.Admin}}/metrics"}
    slos:
      - {name: errors, error-ratio: 0.05, window: 2s}
    flags:
      provider: file
      options: {path: "{{.X.Flags}}"}
      kill-on-breach: [beta-banner]
    steps:
      - name: new-checkout
        flag:
          flags: [new-checkout]
          analysis-interval: 1s
          stages:
            - {percentage: 10, bake: 3s}
            - {percentage: 50, bake: 3s}
            - {percentage: 100, bake: 3s}
`

// TestFlagRolloutUnderLoadAndBreach: the sample app evaluates new-checkout
// through OpenFeature from the file the flag step writes. A first rollout
// breaks at 50% (the new behaviour answers 500): the breach restores the
// flag's own definition at once, read back, and the 5xx stop. With the fault
// gone the next rollout reaches everyone, each stage in the status.
func TestFlagRolloutUnderLoadAndBreach(t *testing.T) {
	t.Parallel()
	r := newRig(t, "flag")
	flagsFile := filepath.Join(r.dir, "flags.json")
	own := `{"flags": {"new-checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "metadata": {"owner": "payments"}},
	  "beta-banner": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "on"}}}`
	if err := os.WriteFile(flagsFile, []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &slotted{r: r, ports: map[string]int{"blue": appPort(t), "green": appPort(t)}}
	token := randomToken(t)
	s.startEdge(t, token)
	green := startSampleAppOn(t, s.ports["green"], "1.0.0", "--flags", flagsFile)
	if err := s.edgeSrv.SetWeights(map[string]int{"green": 100, "blue": 0}); err != nil {
		t.Fatal(err)
	}
	s.startLoad(t)
	r.startWorker("E2E_EDGE_TOKEN=" + token)
	path, digest := r.writeRunbook("runbook.yaml", flagRunbook, map[string]any{
		"Admin": s.admin, "Blue": s.ports["blue"], "Green": s.ports["green"], "Flags": flagsFile})

	id := r.deploy(path, digest, "feature-1", requester)
	r.waitFor(id, "new-checkout at 50%", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && len(e.Flags) == 1 && e.Flags[0].Stage == 2
	})
	postFeatureFault(t, green, true)
	faultAt := time.Now()
	st := r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	prod := env(t, st, "production")
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") || prod.Flags[0].Rollout != "off" {
		t.Fatalf("release is %s (%s), flags %+v; want rolled back on the SLO breach with the flag off again", st.State, st.Reason, prod.Flags)
	}
	if data, _ := os.ReadFile(flagsFile); !strings.Contains(string(data), `"owner": "payments"`) {
		t.Errorf("the restore lost the flag's own definition:\n%s", data)
	}
	if doc, _ := flagd.Read(flagsFile); flags.RolloutOf(doc.Flags["beta-banner"]).On {
		t.Errorf("the breach left beta-banner (kill-on-breach) on")
	}
	killed := false
	for _, rec := range r.auditRecords(id) {
		killed = killed || rec["action"] == workflows.ActionFlagOff && strings.Contains(fmt.Sprint(rec["detail"]), "kill switch turned beta-banner off")
	}
	if !killed {
		t.Errorf("no audit record of the kill switch turning beta-banner off")
	}
	after := s.load.Snapshot()
	eventually(t, "no 5xx once the flag is back off", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 100 && d.ServerErrors == 0
	})
	t.Logf("feature failing to the flag restored and the 5xx gone: %s", time.Since(faultAt).Round(100*time.Millisecond))
	if c := prod.Compensations; len(c) != 1 || c[0].State != workflows.StateDone || !strings.Contains(c[0].ReadBack, "new-checkout off") {
		t.Errorf("compensations %+v, want the flag restored and read back off", c)
	}

	postFeatureFault(t, green, false)
	id2 := r.deploy(path, digest, "feature-2", requester)
	st = r.waitFor(id2, id2+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("second rollout is %s (%s), want succeeded", st.State, st.Reason)
	}
	if f := env(t, st, "production").Flags[0]; f.Stage != 3 || f.Rollout != "on for everyone" || f.Previous != "off" {
		t.Errorf("flag status %+v, want stage 3 of 3, on for everyone, previously off", f)
	}
	if out := r.mustCLI("status", id2).stdout; !strings.Contains(out, "flag new-checkout (new-checkout): on for everyone, stage 3 of 3; before: off") {
		t.Errorf("runbook status does not show the flag's stage:\n%s", out)
	}
	doc, err := flagd.Read(flagsFile)
	if err != nil {
		t.Fatal(err)
	}
	if r := flags.RolloutOf(doc.Flags["new-checkout"]); r == nil || r.String() != "on for everyone" {
		t.Errorf("the file shows %+v, want on for everyone", r)
	}
	exportHistory(t, stack.client, env(t, st, "production").WorkflowID, env(t, st, "production").RunID, "environment-flag-rollout")

	// The kill switch: no release, signed, audited, read back.
	if res := r.cli("flag", "off", r.service, "new-checkout", "--env", "production", "--as", "bob"); res.code == 0 || !strings.Contains(res.stderr, "needs --reason") {
		t.Errorf("flag off without a reason: %s", res)
	}
	out := r.mustCLI("flag", "off", r.service, "new-checkout", "--env", "production", "--as", "bob", "--reason", "payments incident").stdout
	if !strings.Contains(out, "was on for everyone, now off") {
		t.Errorf("flag off says %q, want before and after read back", out)
	}
	if doc, _ := flagd.Read(flagsFile); flags.RolloutOf(doc.Flags["new-checkout"]).On {
		t.Errorf("the file still has new-checkout on after the kill switch")
	}
	found := false
	for _, rec := range r.auditRecords(workflows.FlagOffID(r.service, "production", "new-checkout")) {
		found = found || rec["action"] == workflows.ActionFlagOff && rec["actor"] == "bob" && strings.HasPrefix(fmt.Sprint(rec["identity"]), "ssh ")
	}
	if !found {
		t.Errorf("no flag.off audit record by bob, verified by his key")
	}
}

// postFeatureFault makes the sample app's new behaviour fail, or heals it.
func postFeatureFault(t *testing.T, base string, failing bool) {
	t.Helper()
	u := base + "/feature-fault?failing=false"
	if failing {
		u = base + "/feature-fault?failing=true"
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d", u, resp.StatusCode)
	}
}
