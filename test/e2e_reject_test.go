package test

import (
	"slices"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

const rejectRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
{{- range .X.Steps}}
      - name: {{.}}
        http-check:
          url: {{$.X.URL}}/do/{{.}}
          method: POST
          interval: 250ms
        on-rollback:
          url: {{$.X.URL}}/undo/{{.}}
          method: POST
{{- end}}
      - name: go-live
        approval:
          approvers: [bob]
          instructions: Look at the dashboards.
  - name: production
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/production
`

// TestRejectRollsBackInReverse: a rejection at a gate after three steps
// runs their on-rollback hooks newest first, each once, and the release
// ends rolled back with the rejection as its reason.
func TestRejectRollsBackInReverse(t *testing.T) {
	t.Parallel()
	r := newRig(t, "reject")
	rec := newRecorder(t)
	r.startWorker()
	steps := []string{"migrate-db", "warm-cache", "switch-flag"}
	path, digest := r.writeRunbook("runbook.yaml", rejectRunbook, map[string]any{"URL": rec.srv.URL, "Steps": steps})

	id := r.deploy(path, digest, "1.0.0", "alice")
	st := r.waitFor(id, "gate go-live waiting", gateWaiting("staging", "go-live"))
	plan := env(t, st, "staging").Compensations
	if len(plan) != 3 || plan[0].Step != "switch-flag" || plan[2].Step != "migrate-db" || plan[0].State != workflows.StatePending {
		t.Errorf("rollback plan while waiting: %+v; want switch-flag, warm-cache, migrate-db, pending", plan)
	}
	if got := rec.requests("/undo/"); len(got) != 0 {
		t.Fatalf("undo hooks ran before any rejection: %v", got)
	}

	watch := r.watchAsync(id)
	r.mustCLI("reject", id, "--as", "bob", "--comment", "no")
	res := awaitResult(t, watch, "runbook watch "+id)
	t.Logf("watch said: %s", strings.TrimSpace(res.stderr))
	if res.code == 0 || !strings.Contains(res.stderr, "rejected by bob") {
		t.Fatalf("watch of the rejected release: want a non-zero exit saying rejected by bob, got %s", res)
	}

	// The hooks ran in reverse order, each once, with their own keys.
	undo := rec.requests("/undo/")
	want := []string{"/undo/switch-flag", "/undo/warm-cache", "/undo/migrate-db"}
	if got := paths(undo); !slices.Equal(got, want) {
		t.Fatalf("undo hooks hit %v, want %v", got, want)
	}
	keys := map[string]bool{}
	for _, u := range undo {
		if u.Method != "POST" || !strings.HasSuffix(u.Key, "/rollback") || keys[u.Key] {
			t.Errorf("undo request %+v: want POST with its own Idempotency-Key ending in /rollback", u)
		}
		keys[u.Key] = true
	}
	if got := paths(rec.requests("/do/")); !slices.Equal(got, []string{"/do/migrate-db", "/do/warm-cache", "/do/switch-flag"}) {
		t.Errorf("steps hit %v", got)
	}

	st = r.status(id)
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "rejected by bob at gate go-live: no") {
		t.Errorf("release is %s (%s), want rolled-back: rejected by bob at gate go-live: no", st.State, st.Reason)
	}
	stg := env(t, st, "staging")
	if stg.State != workflows.StateRolledBack {
		t.Errorf("staging is %s, want rolled-back", stg.State)
	}
	// The Web UI's details of the ended environment: nothing blocks it any
	// more, its first line is its final state, and the rollback plan says
	// what each undo read back.
	details := currentDetails(t, r, stg.WorkflowID)
	if first, _, _ := strings.Cut(details, "\n"); strings.Contains(first, "WAITING") || !strings.Contains(first, "→ staging**: rolled-back") {
		t.Errorf("first line of the rolled-back environment's details: %q", first)
	}
	if !strings.Contains(details, "**Rollback plan**") || strings.Count(details, "(done) — read back: hook answered 200") != 3 {
		t.Errorf("rolled-back environment's details lack the read-back rollback plan:\n%s", details)
	}
	if rel, _, _ := strings.Cut(currentDetails(t, r, id), "\n"); strings.Contains(rel, "WAITING") {
		t.Errorf("the ended release still says it waits: %q", rel)
	}
	var order []string
	for _, c := range stg.Compensations {
		order = append(order, c.Step)
		if c.State != workflows.StateDone {
			t.Errorf("compensation of %s is %s (%s), want done", c.Step, c.State, c.Error)
		}
	}
	if !slices.Equal(order, []string{"switch-flag", "warm-cache", "migrate-db"}) {
		t.Errorf("compensation plan %v, want newest first", order)
	}
	for _, s := range steps {
		if got := step(t, stg, s).State; got != workflows.StateCompensated {
			t.Errorf("staging/%s is %s, want compensated", s, got)
		}
	}
	if g := step(t, stg, "go-live"); g.State != workflows.StateRejected || g.Gate.Rejection == nil || g.Gate.Rejection.Actor != "bob" {
		t.Errorf("gate go-live: %s, rejection %+v; want rejected by bob", g.State, g.Gate.Rejection)
	}
	if p := env(t, st, "production"); p.State != workflows.StateNotReached {
		t.Errorf("production is %s, want not-reached", p.State)
	}
	if got := rec.requests("/production"); len(got) != 0 {
		t.Errorf("production was checked after a rejection in staging: %v", got)
	}

	recs := r.auditRecords(id)
	if !hasAudit(recs, "gate.rejected", "bob", "go-live") {
		t.Errorf("audit log has no gate.rejected record by bob")
	}
	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}

	exportHistory(t, stack.client, stg.WorkflowID, stg.RunID, "environment-rolled-back")
	exportHistory(t, stack.client, id, "", "release-rolled-back")
}
