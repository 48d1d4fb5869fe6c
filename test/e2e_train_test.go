package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

// trainServiceRunbook is one service of the train: an http-check per
// environment, so the test decides which service fails where.
const trainServiceRunbook = `api-version: runbook/v1
service: {{.X.Name}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/{{.X.Name}}/staging/healthz", interval: 250ms}}
  - name: production
    identity: signed
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/{{.X.Name}}/production/healthz", interval: 250ms, deadline: 2s}}
`

// trainFile: db, then api after db, then web after api; jobs on its own.
const trainFile = `api-version: runbook/v1
train: %[1]s
environments: [staging, production]
rollback-scope: environment
gates:
  production:
    - {name: cab, approvers: [bob], timeout: 1h, instructions: "CAB: the whole train"}
services:
  - {name: %[1]s-db, runbook: db.yaml, version: "%[2]s", digest: "%[3]s"}
  - {name: %[1]s-api, runbook: api.yaml, version: "%[2]s", digest: "%[3]s", after: [%[1]s-db]}
  - {name: %[1]s-web, runbook: web.yaml, version: "%[2]s", digest: "%[3]s", after: [%[1]s-api]}
  - {name: %[1]s-jobs, runbook: jobs.yaml, version: "%[2]s", digest: "%[3]s"}
`

// TestTrainReleasesInDependencyOrderAndRollsBackTheEnvironment: a train of
// four services goes through staging in dependency order (jobs alongside
// db), waits at one CAB gate for production that its requester may not
// approve, and succeeds. The next train's web fails in production: the
// train starts nothing more and rolls back, api before db, every service
// it released there (rollback-scope environment) through the one-command
// rollback, to the versions of the first train.
func TestTrainReleasesInDependencyOrderAndRollsBackTheEnvironment(t *testing.T) {
	t.Parallel()
	r := newRig(t, "train")
	rec := newRecorder(t)
	r.startWorker()
	var digest string
	for _, svc := range []string{"db", "api", "web", "jobs"} {
		_, digest = r.writeRunbook(svc+".yaml", trainServiceRunbook, map[string]any{"URL": rec.srv.URL, "Name": r.service + "-" + svc})
	}
	name := func(svc string) string { return r.service + "-" + svc }
	writeTrain := func(version string) string {
		p := filepath.Join(r.dir, "train-"+version+".yaml")
		if err := os.WriteFile(p, fmt.Appendf(nil, trainFile, r.service, version, digest), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	r.mustCLI("train", "validate", writeTrain("1.0.0"))
	id := workflows.TrainID(r.service, "w1")
	r.mustCLI("train", "deploy", writeTrain("1.0.0"), "--name", "w1", "--as", "alice")
	st := r.waitTrain(id, "the CAB gate for production", trainGateWaiting("production", "cab"))
	assertTrainOrder(t, st, "staging", name("db"), name("api"), name("web"))
	if db, jobs := mustCell(t, st, "staging", name("db")), mustCell(t, st, "staging", name("jobs")); jobs.StartedAt.After(db.EndedAt) {
		t.Errorf("jobs started at %s, after db ended at %s; it depends on nothing and should run alongside", jobs.StartedAt, db.EndedAt)
	}
	if got := rec.requests("/" + name("db") + "/production"); len(got) != 0 {
		t.Fatalf("production was touched before the train gate was approved: %v", paths(got))
	}
	if res := r.cli("train", "approve", id, "--as", "alice"); res.code == 0 || !strings.Contains(res.stderr, "separation of duties") {
		t.Fatalf("the train's requester approved its gate: %s", res)
	}
	r.mustCLI("train", "approve", id, "--as", "bob", "--comment", "CAB 2026-12-07")
	st = r.waitTrain(id, "train w1 finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("train w1 is %s (%s), want succeeded", st.State, st.Reason)
	}
	assertTrainOrder(t, st, "production", name("db"), name("api"), name("web"))
	if g := st.Environments[1].Gates[0]; len(g.Approvals) != 1 || g.Approvals[0].Actor != "bob" || !strings.HasPrefix(g.Approvals[0].Verified, "ssh ") {
		t.Errorf("train gate approvals %+v, want bob's, verified by his SSH key", g.Approvals)
	}

	rec.mu.Lock()
	rec.failing = "/" + name("web") + "/production"
	rec.mu.Unlock()
	id2 := workflows.TrainID(r.service, "w2")
	r.mustCLI("train", "deploy", writeTrain("2.0.0"), "--name", "w2", "--as", "alice")
	r.waitTrain(id2, "w2's CAB gate", trainGateWaiting("production", "cab"))
	r.mustCLI("train", "approve", id2, "--as", "bob")
	st = r.waitTrain(id2, "train w2 finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	assertTrainRolledBack(t, r, st, name)

	out := r.mustCLI("train", "status", id2).stdout
	for _, want := range []string{"rollback " + name("api") + " → 1.0.0: succeeded", "↩ " + name("db"), "train gate cab: approved by bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("train status lacks %q:\n%s", want, out)
		}
	}
	eventually(t, "runbook train list shows both runs with their outcome", func() bool {
		res := runCLIQuiet(r.env, "train", "list", r.service)
		return res.code == 0 && strings.Contains(res.stdout, id+" ") && strings.Contains(res.stdout, id2+" ") &&
			strings.Contains(res.stdout, workflows.StateFailed)
	})
	exportHistory(t, stack.client, id2, "", "train-rolled-back")
}

// assertTrainRolledBack checks the failed train: web failed, the others
// in production rolled back to 1.0.0 by rollback releases, api before db.
func assertTrainRolledBack(t *testing.T, r *rig, st workflows.TrainStatus, name func(string) string) {
	t.Helper()
	if st.State != workflows.StateFailed || !strings.Contains(st.Reason, name("web")) {
		t.Fatalf("train w2 is %s (%s), want failed naming web", st.State, st.Reason)
	}
	prod := st.Environments[1]
	var order []string
	for _, rb := range prod.Rollbacks {
		order = append(order, rb.Service)
		if rb.State != workflows.StateSucceeded || rb.To != "1.0.0" {
			rst, _ := r.rc.Status(context.Background(), rb.ReleaseID)
			t.Errorf("rollback of %s: %s to %q (%s), want succeeded to 1.0.0; its release: %s %s", rb.Service, rb.State, rb.To, rb.Why, rst.State, rst.Reason)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rst, err := r.rc.Status(ctx, rb.ReleaseID)
		cancel()
		if err != nil || rst.Version != "1.0.0" || rst.Rollback == nil || rst.Rollback.Of != workflows.TrainCellID(st.TrainID, rb.Service, "production") {
			t.Errorf("rollback release %s: %+v (%v); want 1.0.0 rolling back the train's release", rb.ReleaseID, rst.Rollback, err)
		}
	}
	ia, id := slices.Index(order, name("api")), slices.Index(order, name("db"))
	if len(order) != 3 || ia < 0 || id < 0 || ia > id || !slices.Contains(order, name("jobs")) {
		t.Errorf("rollbacks in order %v; want api, db and jobs, api before db", order)
	}
	for _, svc := range []string{"db", "api", "jobs"} {
		if c := mustCell(t, st, "production", name(svc)); c.State != workflows.StateRolledBack {
			t.Errorf("%s in production is %s (%s), want rolled-back", svc, c.State, c.Reason)
		}
	}
	if c := mustCell(t, st, "production", name("web")); c.State == workflows.StateSucceeded {
		t.Errorf("web in production is %s, want it failed", c.State)
	}
}

// assertTrainOrder checks that each service started only after the one
// before it in order ended, in env.
func assertTrainOrder(t *testing.T, st workflows.TrainStatus, env string, order ...string) {
	t.Helper()
	for k := 1; k < len(order); k++ {
		prev, cur := mustCell(t, st, env, order[k-1]), mustCell(t, st, env, order[k])
		if prev.State != workflows.StateSucceeded || cur.StartedAt.Before(prev.EndedAt) {
			t.Errorf("%s: %s started at %s, before %s (%s) ended at %s", env, order[k], cur.StartedAt, order[k-1], prev.State, prev.EndedAt)
		}
	}
}

func mustCell(t *testing.T, st workflows.TrainStatus, env, svc string) workflows.TrainCell {
	t.Helper()
	c, ok := st.Cell(env, svc)
	if !ok {
		b, _ := json.MarshalIndent(st, "", "  ")
		t.Fatalf("train has no %s in %s:\n%s", svc, env, b)
	}
	return c
}

// trainGateWaiting holds when the train gate waits in env.
func trainGateWaiting(env, gate string) func(workflows.TrainStatus) bool {
	return func(st workflows.TrainStatus) bool {
		for _, e := range st.Environments {
			for _, g := range e.Gates {
				if e.Name == env && g.Name == gate && g.State == workflows.StateWaiting {
					return true
				}
			}
		}
		return false
	}
}

// waitTrain polls the train's status until cond holds.
func (r *rig) waitTrain(id, what string, cond func(workflows.TrainStatus) bool) workflows.TrainStatus {
	r.t.Helper()
	var last workflows.TrainStatus
	var lastErr error
	start := time.Now()
	for time.Since(start) < pollDeadline {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := r.rc.TrainStatus(ctx, id)
		cancel()
		last, lastErr = st, err
		if err == nil && cond(st) {
			r.t.Logf("%s (%s)", what, time.Since(start).Round(time.Millisecond))
			return st
		}
		time.Sleep(pollInterval)
	}
	b, _ := json.MarshalIndent(last, "", "  ")
	r.t.Fatalf("%s: not reached after %s (last error %v); last status:\n%s", what, pollDeadline, lastErr, b)
	return last
}

// TestTrainKeyRevokedWhileTheGateWaits: the worker's allowed signers lose
// bob's key while the train's CAB gate waits. bob's signed approval, which
// the gate would have taken on the roots the train started with, is refused
// with the reason and recorded as refused; carol's approval opens the gate.
// The file is this test's own copy of the keyring's.
func TestTrainKeyRevokedWhileTheGateWaits(t *testing.T) {
	t.Parallel()
	r := newRig(t, "trainrevoked")
	rec := newRecorder(t)
	signers := startWorkerWithOwnSigners(t, r)
	svc := r.service + "-jobs"
	_, digest := r.writeRunbook("jobs.yaml", trainServiceRunbook, map[string]any{"URL": rec.srv.URL, "Name": svc})
	train := fmt.Sprintf(`api-version: runbook/v1
train: %[1]s
environments: [staging, production]
gates:
  production:
    - {name: cab, approvers: [bob, carol], timeout: 1h}
services:
  - {name: %[2]s, runbook: jobs.yaml, version: "1.0.0", digest: "%[3]s"}
`, r.service, svc, digest)
	path := filepath.Join(r.dir, "train.yaml")
	if err := os.WriteFile(path, []byte(train), 0o644); err != nil {
		t.Fatal(err)
	}
	id := workflows.TrainID(r.service, "w1")
	r.mustCLI("train", "deploy", path, "--name", "w1", "--as", "alice")
	r.waitTrain(id, "the CAB gate for production", trainGateWaiting("production", "cab"))

	signers.revoke(t, "bob")
	res := r.cli("train", "approve", id, "--as", "bob")
	if res.code == 0 || !strings.Contains(res.stderr, "no longer trust") || !strings.Contains(res.stderr, "may not sign as bob") {
		t.Fatalf("bob approving after his key was removed: want refused, saying the trust roots changed, got %s", res)
	}
	r.mustCLI("train", "approve", id, "--as", "carol")
	st := r.waitTrain(id, "train w1 finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("train w1 is %s (%s), want succeeded", st.State, st.Reason)
	}
	if g := st.Environments[1].Gates[0]; len(g.Approvals) != 1 || g.Approvals[0].Actor != "carol" {
		t.Errorf("train gate approvals %+v, want carol's only", g.Approvals)
	}
	entries, err := audit.Read(r.auditLog, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e audit.Entry) bool {
		return e.Action == "train.gate.refused" && e.Actor == "bob" && e.Step == "cab" && strings.Contains(e.Detail, "no longer trust")
	}) {
		t.Errorf("the audit log has no train.gate.refused record for bob at gate cab")
	}
	exportHistory(t, stack.client, id, "", "train-settle-roots-revoked-approved")
}
