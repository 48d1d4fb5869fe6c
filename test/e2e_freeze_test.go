package test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

const freezeRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
policy:
  break-glass:
    approvers: [erin]
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/staging/healthz
          interval: 250ms
  - name: production
    approvals:
      - name: go
        approvers: [bob]
    steps:
      - name: deploy
        http-check:
          url: {{.X.URL}}/production/${version}
          interval: 250ms
`

// inNamespace moves the rig into namespace ns: its CLI, workers and client.
func (r *rig) inNamespace(ns string) {
	r.t.Helper()
	c, err := client.NewClientFromExisting(stack.client, client.Options{Namespace: ns, Logger: quietLogger{}})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(c.Close)
	for i, kv := range r.env {
		if strings.HasPrefix(kv, "TEMPORAL_NAMESPACE=") {
			r.env[i] = "TEMPORAL_NAMESPACE=" + ns
		}
	}
	r.rc = &releases.Client{Temporal: c, Namespace: ns, TaskQueue: r.queue}
}

// listFreezes reads `runbook freeze list --all -o json`.
func (r *rig) listFreezes() []freezes.Freeze {
	r.t.Helper()
	var fs []freezes.Freeze
	if err := json.Unmarshal([]byte(r.mustCLI("freeze", "list", "--all", "-o", "json").stdout), &fs); err != nil {
		r.t.Fatal(err)
	}
	return fs
}

// TestFreezeInFlightAndBreakGlass runs against a real dev server and real
// workers, in a namespace of its own (a freeze holds every release of the
// namespace it covers):
//  1. a freeze created while a release waits at a gate holds the release's
//     next step after the approval, visibly; lifting it lets the step run;
//  2. an emergency release (deploy --break-glass) passes an active freeze
//     only with the emergency group's approval, and is flagged in status,
//     the Web UI summary and the audit log.
func TestFreezeInFlightAndBreakGlass(t *testing.T) {
	t.Parallel()
	r := newRig(t, "freeze")
	r.inNamespace(freezeNamespace)
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", freezeRunbook, map[string]any{"URL": rec.srv.URL})

	// Refused freezes leave nothing behind.
	if res := r.cli("freeze", "create", "--env", "production", "--as", "cab"); res.code == 0 || !strings.Contains(res.stderr, "needs a reason") {
		t.Errorf("freeze without a reason: %s", res)
	}

	id := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(id, "gate go waiting", gateWaiting("production", "go"))
	frz := r.createFreeze("--env", "production", "--service", r.service, "--for", "24h", "--reason", "holiday peak")
	r.mustCLI("approve", id, "--as", "bob")
	st := r.waitFor(id, "production deploy held by the freeze", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Name == "production" && strings.Contains(stepDetail(e, "deploy"), "held by freeze "+frz+" ")
	})
	if d := stepDetail(env(t, st, "production"), "deploy"); !strings.Contains(d, "holiday peak") || !strings.Contains(d, "runbook freeze lift "+frz) {
		t.Errorf("held step says %q; want the reason and how to lift", d)
	}
	if got := rec.requests("/production"); len(got) != 0 {
		t.Fatalf("production was changed during the freeze: %v", paths(got))
	}
	// At a glance: the Web UI's first line on the release and on the
	// environment says what holds it and how to lift it, and the list
	// filters on held.
	held := []string{"HELD: step deploy held by freeze " + frz + " ", "`runbook freeze lift " + frz}
	assertBlockingFirst(t, r, id, append([]string{"production: "}, held...)...)
	assertBlockingFirst(t, r, env(t, st, "production").WorkflowID, held...)
	eventually(t, "runbook list --status held shows "+id, func() bool {
		res := runCLIQuiet(r.env, "list", "--service", r.service, "--status", workflows.StateHeld)
		return res.code == 0 && strings.Contains(res.stdout, id)
	})
	if out := r.mustCLI("freeze", "list").stdout; !strings.Contains(out, frz) || !strings.Contains(out, "holiday peak") {
		t.Errorf("freeze list:\n%s", out)
	}
	if res := r.cli("freeze", "lift", "freeze-0", "--reason", "x", "--as", "cab"); res.code == 0 || !strings.Contains(res.stderr, `no freeze "freeze-0"`) {
		t.Errorf("lifting an unknown freeze: %s", res)
	}
	r.mustCLI("freeze", "lift", frz, "--reason", "peak over", "--as", "cab")
	st = r.waitFor(id, "release succeeded after the lift", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "staging", "production")
	if f, ok := r.freeze(frz); !ok || f.LiftedBy != "cab" || f.LiftReason != "peak over" {
		t.Errorf("freeze list --all: %+v; want %s lifted by cab", r.listFreezes(), frz)
	}
	prod := env(t, st, "production")
	exportHistory(t, r.rc.Temporal, prod.WorkflowID, prod.RunID, "environment-frozen-then-lifted")
	recs := r.auditRecords(id)
	for _, want := range []string{"step.frozen", "step.unfrozen"} {
		if !hasAudit(recs, want, "runbook", "deploy") {
			t.Errorf("audit log lacks %s for deploy", want)
		}
	}

	t.Run("break-glass", func(t *testing.T) { breakGlassThroughFreeze(t, r, rec, path, digest) })
}

// breakGlassThroughFreeze: an open-ended freeze of all of production; an
// emergency release passes it with erin's approval, flagged everywhere.
func breakGlassThroughFreeze(t *testing.T, r *rig, rec *recorder, path, digest string) {
	r.createFreeze("--env", "production", "--reason", "year-end close")
	if res := r.cli("deploy", path, "--version", "1.0.1", "--digest", digest, "--as", "alice", "--break-glass"); res.code == 0 || !strings.Contains(res.stderr, "needs --reason") {
		t.Errorf("break-glass without a reason: %s", res)
	}
	r.mustCLI("deploy", path, "--version", "1.0.1", "--digest", digest, "--as", "alice", "--break-glass", "--reason", "INC-42 payments down")
	id := workflows.ReleaseID(r.service, "1.0.1")
	r.waitFor(id, "gate go waiting", gateWaiting("production", "go"))
	r.mustCLI("approve", id, "--as", "bob")
	r.waitFor(id, "break-glass gate waiting", gateWaiting("production", workflows.BreakGlassGate))
	if res := r.cli("approve", id, "--gate", workflows.BreakGlassGate, "--as", "bob"); res.code == 0 || !strings.Contains(res.stderr, "erin") {
		t.Errorf("bob approving break-glass: %s", res)
	}
	if got := rec.requests("/production/1.0.1"); len(got) != 0 {
		t.Fatalf("production changed before break-glass was approved: %v", paths(got))
	}
	r.mustCLI("approve", id, "--gate", workflows.BreakGlassGate, "--as", "erin")
	st := r.waitFor(id, "emergency release finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "staging", "production")
	if st.BreakGlass != "INC-42 payments down" || !strings.Contains(env(t, st, "production").BreakGlass, "approved by erin") {
		t.Errorf("status break-glass: release %q, production %q", st.BreakGlass, env(t, st, "production").BreakGlass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := r.rc.Temporal.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := desc.GetStaticSummary(); err != nil || !strings.HasPrefix(s, "BREAK-GLASS") {
		t.Errorf("Web UI summary %q (%v) does not flag break-glass", s, err)
	}
	if out := r.mustCLI("status", id).stdout; !strings.Contains(out, "BREAK-GLASS: INC-42 payments down") {
		t.Errorf("runbook status does not flag break-glass:\n%s", out)
	}
	eventually(t, "runbook list --break-glass shows "+id, func() bool {
		out := runCLIQuiet(r.env, "list", "--break-glass", "--service", r.service)
		return out.code == 0 && strings.Contains(out.stdout, id) && !strings.Contains(out.stdout, workflows.ReleaseID(r.service, "1.0.0"))
	})
	exportHistory(t, r.rc.Temporal, id, "", "release-break-glass")
	exportHistory(t, r.rc.Temporal, env(t, st, "production").WorkflowID, env(t, st, "production").RunID, "environment-break-glass")
	recs := r.auditRecords(id)
	if !hasAudit(recs, "break-glass.approved", "erin", "deploy") {
		t.Errorf("audit log lacks break-glass.approved by erin")
	}
	for _, e := range recs {
		if e["break_glass"] != true {
			t.Errorf("audit entry %v %v is not flagged break-glass", e["action"], e["step"])
			break
		}
	}
}

// createFreeze runs `runbook freeze create` with args as cab and returns
// the new freeze's ID. The freeze is lifted when the test ends, so it
// cannot hold another test's releases in the namespace.
func (r *rig) createFreeze(args ...string) string {
	r.t.Helper()
	id := r.newFreeze(args...)
	r.t.Cleanup(func() {
		if g, ok := r.freeze(id); ok && g.LiftedAt.IsZero() {
			r.mustCLI("freeze", "lift", id, "--reason", "test finished", "--as", "cab")
		}
	})
	return id
}

// newFreeze runs `runbook freeze create` with args as cab and returns the
// new freeze's ID, leaving it in place when the test ends.
func (r *rig) newFreeze(args ...string) string {
	r.t.Helper()
	res := r.mustCLI(append([]string{"freeze", "create", "--as", "cab", "-o", "json"}, args...)...)
	var f freezes.Freeze
	if err := json.Unmarshal([]byte(res.stdout), &f); err != nil || !strings.HasPrefix(f.ID, "freeze-") {
		r.t.Fatalf("freeze create printed %q (%v)", res.stdout, err)
	}
	return f.ID
}

// freeze finds one freeze in `runbook freeze list --all`.
func (r *rig) freeze(id string) (freezes.Freeze, bool) {
	for _, f := range r.listFreezes() {
		if f.ID == id {
			return f, true
		}
	}
	return freezes.Freeze{}, false
}

// stepDetail is the named step's detail, "" when there is none.
func stepDetail(e workflows.EnvironmentStatus, name string) string {
	for _, s := range e.Steps {
		if s.Name == name {
			return s.Detail
		}
	}
	return ""
}
