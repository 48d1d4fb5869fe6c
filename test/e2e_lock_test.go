package test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

const lockRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    approvals:
      - name: qa
        approvers: [bob]
    steps:
      - name: smoke
        http-check:
          url: {{.X}}/staging/${version}
          interval: 250ms
  - name: production
    steps:
      - name: smoke
        http-check:
          url: {{.X}}/production/${version}
          interval: 250ms
`

// TestSecondLiveReleaseRefused: while v1 holds staging, deploying v2 is
// refused naming v1; aborting v1 rolls it back with the abort's reason and
// frees the environment for v2.
func TestSecondLiveReleaseRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, "lock")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", lockRunbook, rec.srv.URL)

	v1 := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(v1, "v1 waiting at gate qa", gateWaiting("staging", "qa"))

	res := r.cli("deploy", path, "--version", "2.0.0", "--digest", digest, "--as", "alice")
	if res.code == 0 || !strings.Contains(res.stderr, v1) {
		t.Fatalf("deploying 2.0.0 while %s is live: want a refusal naming it, got %s", v1, res)
	}
	v2 := workflows.ReleaseID(r.service, "2.0.0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := stack.client.DescribeWorkflow(ctx, v2, "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("refused deploy left a workflow %s behind (describe: %v)", v2, err)
	}

	// The workflow enforces the same rule if a client skips the check (or
	// races it): the environment's workflow ID is taken.
	assertWorkflowRefusesSecondRelease(t, r, path, digest, v1)

	watch := r.watchAsync(v1)
	res = r.mustCLI("abort", v1, "--as", "alice", "--reason", "test")
	if !strings.Contains(res.stdout, workflows.StateRollingBack) {
		t.Errorf("abort printed %q, want the environment rolling back", res.stdout)
	}
	res = awaitResult(t, watch, "runbook watch "+v1)
	reason := strings.TrimSpace(res.stderr)
	t.Logf("watch said: %s", reason)
	if res.code == 0 || strings.Contains(reason, "\n") || !strings.Contains(reason, "aborted by alice") {
		t.Fatalf("watch of the aborted release: want a non-zero exit with one line saying aborted by alice, got %s", res)
	}

	st := r.status(v1)
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "aborted by alice: test") {
		t.Errorf("v1 is %s (%s), want rolled-back, aborted by alice: test", st.State, st.Reason)
	}
	stg := env(t, st, "staging")
	if g := step(t, stg, "qa"); stg.State != workflows.StateRolledBack || g.State != workflows.StateInterrupted {
		t.Errorf("staging %s with gate qa %s, want rolled-back and interrupted", stg.State, g.State)
	}
	if s := step(t, stg, "smoke"); s.State != workflows.StateNotReached {
		t.Errorf("staging/smoke is %s after the abort, want not-reached", s.State)
	}
	if p := env(t, st, "production"); p.State != workflows.StateNotReached {
		t.Errorf("production is %s, want not-reached", p.State)
	}
	if got := rec.requests("/"); len(got) != 0 {
		t.Errorf("an aborted release ran checks: %v", got)
	}
	if !hasAudit(r.auditRecords(v1), "release.aborted", "alice", "") {
		t.Errorf("audit log has no release.aborted record by alice")
	}

	// The environment is free again: v2 deploys and goes through.
	v2 = r.deploy(path, digest, "2.0.0", "alice")
	r.waitFor(v2, "v2 waiting at gate qa", gateWaiting("staging", "qa"))
	r.mustCLI("approve", v2, "--as", "bob")
	if res := r.cli("watch", v2); res.code != 0 {
		t.Fatalf("watch v2: %s", res)
	}
	assertSucceeded(t, r.status(v2), "staging", "production")
	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}
}

// assertWorkflowRefusesSecondRelease starts a release straight through the
// SDK, without the client's check, while v1 holds staging: the Release
// workflow must fail as locked, naming the environment, and leave v1 alone.
func assertWorkflowRefusesSecondRelease(t *testing.T, r *rig, path, digest, v1 string) {
	t.Helper()
	rb, err := runbooks.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := releases.Resolve(releases.ResolveInput{Path: path, Runbook: rb, Version: "3.0.0", Digest: digest, Requester: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pollDeadline)
	defer cancel()
	run, err := stack.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.ReleaseID(r.service, "3.0.0"), TaskQueue: r.queue,
	}, workflows.ReleaseWorkflowName, in)
	if err != nil {
		t.Fatalf("start release 3.0.0 directly: %v", err)
	}
	err = run.Get(ctx, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != workflows.ErrTypeLocked || !strings.Contains(appErr.Message(), "locked by another live release") {
		t.Fatalf("release 3.0.0 while %s is live: want an %s failure, got %v", v1, workflows.ErrTypeLocked, err)
	}
	st := r.waitFor(v1, "v1 still waiting at gate qa", gateWaiting("staging", "qa"))
	if st.State != workflows.StateRunning {
		t.Errorf("v1 is %s after the refused release, want running", st.State)
	}
}
