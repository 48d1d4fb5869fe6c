package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// promoteRunbook: staging soaks 3s, then production waits for a manual
// promotion before its own gate.
const promoteRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    promote: manual
    promote-approvers: [bob]
    soak: 3s
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/staging/healthz
          interval: 250ms
  - name: production
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/production/healthz
          interval: 250ms
`

// TestManualPromotionAfterSoak: staging succeeds, the release soaks it
// (the release's first line says until when), then production waits at
// the promote gate for bob; promote-env by someone else is refused,
// bob's starts production, and the release succeeds.
func TestManualPromotionAfterSoak(t *testing.T) {
	t.Parallel()
	r := newRig(t, "promote")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", promoteRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "1.0.0", "alice")

	st := r.waitFor(id, "staging soaking", func(st workflows.ReleaseStatus) bool { return st.Soak != nil })
	if k := st.Soak; k.Environment != "staging" || k.Next != "production" || !strings.Contains(st.Summary(), "SOAKING: staging succeeded; production starts at ") {
		t.Errorf("soak %+v, summary %q: want staging soaking before production, first in the details", k, st.Summary())
	}
	st = r.waitFor(id, "production waits for its promotion", gateWaiting("production", runbooks.PromoteGate))
	staging, prod := env(t, st, "staging"), env(t, st, "production")
	if gap := prod.StartedAt.Sub(staging.EndedAt); gap < 3*time.Second {
		t.Errorf("production started %s after staging ended, want the 3s soak first", gap)
	}
	if got := rec.requests("/production"); len(got) != 0 {
		t.Fatalf("production ran before its promotion: %v", got)
	}
	if res := r.cli("promote-env", id, "--env", "production", "--as", "carol"); res.code == 0 {
		t.Errorf("carol promoted, want refused (only bob may): %s", res)
	}
	r.mustCLI("promote-env", id, "--env", "production", "--as", "bob", "--comment", "staging looked good overnight")
	st = r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release %s after the promotion, want succeeded (%s)", st.State, st.Reason)
	}
	promote := step(t, env(t, st, "production"), runbooks.PromoteGate).Gate
	if promote == nil || len(promote.Approvals) != 1 || promote.Approvals[0].Actor != "bob" {
		t.Errorf("promote gate %+v, want bob's approval recorded", promote)
	}
	// The soak's timer is a command only releases with a soak emit.
	exportHistory(t, stack.client, id, "", "release-soaked-promoted")
}

// soakAbortRunbook: staging soaks an hour before production.
const soakAbortRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    soak: 1h
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/staging/healthz", interval: 250ms}}
  - name: production
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/production/healthz", interval: 250ms}}
`

// TestAbortDuringSoak: while staging soaks no environment runs, so the
// release itself takes `runbook abort`, signed like any decision: without
// a reason it is refused, with one the release ends aborted at once,
// naming who and why, and production never starts.
func TestAbortDuringSoak(t *testing.T) {
	t.Parallel()
	r := newRig(t, "soakabort")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", soakAbortRunbook, map[string]any{"URL": rec.srv.URL})
	id := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(id, "staging soaking", func(st workflows.ReleaseStatus) bool { return st.Soak != nil })
	if res := r.cli("abort", id, "--as", "bob"); res.code == 0 || !strings.Contains(res.stderr, "needs --reason") {
		t.Errorf("abort without a reason during the soak: %s", res)
	}
	r.mustCLI("abort", id, "--as", "bob", "--reason", "staging alarms overnight")
	st := r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateAborted || !strings.Contains(st.Reason, "aborted by bob while staging soaked") || !strings.Contains(st.Reason, "staging alarms overnight") {
		t.Fatalf("release is %s (%s), want aborted by bob during the soak, saying why", st.State, st.Reason)
	}
	if e := env(t, st, "production"); e.State != workflows.StateNotReached {
		t.Errorf("production is %s, want not-reached", e.State)
	}
	if got := rec.requests("/production"); len(got) != 0 {
		t.Errorf("production ran after the abort: %v", paths(got))
	}
	recs := r.auditRecords(id)
	found := false
	for _, rec := range recs {
		if rec["action"] == "release.aborted" && rec["actor"] == "bob" && strings.Contains(fmt.Sprint(rec["detail"]), "ssh ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no release.aborted audit record by bob, verified by his key: %v", recs)
	}
	exportHistory(t, stack.client, id, "", "release-soak-aborted")
}
