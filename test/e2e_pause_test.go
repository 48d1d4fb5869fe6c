package test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/workflows"
)

const pauseRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: go
        approval:
          approvers: [bob]
      - name: after-gate
        http-check:
          url: {{.X}}/after-gate
          interval: 250ms
`

// pauseHold is how long the test watches a paused release for a step that
// must not start.
const pauseHold = 3 * time.Second

// TestPauseResume: a pause taken while a gate waits holds the release
// after the approval, before its next step; resume lets it finish.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	r := newRig(t, "pause")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", pauseRunbook, rec.srv.URL)

	id := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(id, "gate go waiting", gateWaiting("staging", "go"))

	res := r.mustCLI("pause", id, "--as", "alice", "--reason", "freeze")
	if !strings.Contains(res.stdout, workflows.StatePaused) {
		t.Errorf("pause printed %q", res.stdout)
	}
	if res := r.cli("pause", id, "--as", "carol"); res.code == 0 || !strings.Contains(res.stderr, "already paused by alice") {
		t.Errorf("second pause: want a refusal naming alice, got %s", res)
	}
	r.mustCLI("approve", id, "--as", "bob")
	r.waitFor(id, "gate go approved while paused", func(st workflows.ReleaseStatus) bool {
		return step(t, env(t, st, "staging"), "go").State == workflows.StateApproved
	})

	// Bounded check: for pauseHold the next step must stay pending.
	for end := time.Now().Add(pauseHold); time.Now().Before(end); time.Sleep(pollInterval) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := r.rc.Status(ctx, id)
		cancel()
		if err != nil {
			t.Fatalf("status while paused: %v", err)
		}
		e := env(t, st, "staging")
		if s := step(t, e, "after-gate"); s.State != workflows.StatePending || !s.StartedAt.IsZero() {
			t.Fatalf("after-gate is %s (started %v) while the release is paused", s.State, s.StartedAt)
		}
		if !e.Paused || e.PausedBy != "alice" || st.State == workflows.StateSucceeded {
			t.Fatalf("release %s, staging paused=%v by %q; want still paused by alice", st.State, e.Paused, e.PausedBy)
		}
		if got := rec.requests("/"); len(got) != 0 {
			t.Fatalf("after-gate sent requests while paused: %v", got)
		}
	}

	r.mustCLI("resume", id, "--as", "alice")
	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}
	st := r.status(id)
	assertSucceeded(t, st, "staging")
	if e := env(t, st, "staging"); e.Paused {
		t.Errorf("staging still shows paused after it succeeded")
	}
	if got := paths(rec.requests("/")); len(got) != 1 || got[0] != "/after-gate" {
		t.Errorf("checks hit %v, want /after-gate once", got)
	}
	recs := r.auditRecords(id)
	if !hasAudit(recs, "release.paused", "alice", "") || !hasAudit(recs, "release.resumed", "alice", "") {
		t.Errorf("audit log lacks release.paused / release.resumed by alice")
	}
}
