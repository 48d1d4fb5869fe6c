package test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// TestFreezesWorkflowSurvivesCancelAndTerminate stops the namespace's
// Freezes workflow the ways an SRE can from the Web UI, on a real dev
// server with real workers, in a namespace of its own:
//  1. cancelled, it ends as cancelled (no failing workflow task); a release
//     that reads the freezes meanwhile gets its answer and finishes; `freeze
//     list` still shows the freezes and says the run is closed; `freeze
//     restore` starts a new run with them;
//  2. terminated while a freeze holds a release, `freeze list` still shows
//     that freeze; the next `freeze create` starts a new run with the old
//     freezes, gives an ID none of them has, and its audit record is
//     written; lifting the old freeze releases the held release;
//  3. when a closed run cannot be read back, `freeze create` refuses and
//     says what to do, and `freeze restore --empty` starts afresh, audited.
func TestFreezesWorkflowSurvivesCancelAndTerminate(t *testing.T) {
	t.Parallel()
	r := newRig(t, "board")
	r.inNamespace(freezeBoardNamespace)
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", freezeRunbook, map[string]any{"URL": rec.srv.URL})

	billing := r.createFreeze("--service", "billing", "--reason", "billing audit")
	id := r.deploy(path, digest, "1.0.0", "alice")
	r.waitFor(id, "gate go waiting", gateWaiting("production", "go"))
	cancelled := r.stopFreezes("cancel")
	r.mustCLI("approve", id, "--as", "bob")
	st := r.waitFor(id, "release finished while the Freezes workflow is cancelled", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "staging", "production")
	res := r.mustCLI("freeze", "list")
	if !strings.Contains(res.stdout, billing) || !strings.Contains(res.stderr, "ended (cancelled at") {
		t.Errorf("freeze list of a cancelled Freezes workflow:\n%s", res)
	}
	var restored releases.RestoreResult
	if err := json.Unmarshal([]byte(r.mustCLI("freeze", "restore", "--as", "sre", "-o", "json").stdout), &restored); err != nil ||
		restored.From.RunID != cancelled || restored.From.Status != "cancelled" || restored.Active < 1 || restored.AlreadyRunning {
		t.Errorf("freeze restore after the cancel: %+v (%v)", restored, err)
	}
	if _, ok := r.freeze(billing); !ok {
		t.Errorf("after freeze restore, freeze list --all shows %v; want %s", freezeIDs(r.listFreezes()), billing)
	}
	if out := r.mustCLI("freeze", "restore", "--as", "sre").stdout; !strings.Contains(out, "nothing to restore") {
		t.Errorf("freeze restore of a running workflow printed %q", out)
	}

	held := r.createFreeze("--env", "production", "--service", r.service, "--reason", "holiday peak")
	id = r.deploy(path, digest, "1.0.1", "alice")
	r.waitFor(id, "gate go waiting", gateWaiting("production", "go"))
	r.mustCLI("approve", id, "--as", "bob")
	r.waitFor(id, "production held by "+held, heldBy("production", "deploy", held))
	terminated := r.stopFreezes("terminate")
	before := freezeIDs(r.listFreezes())
	if !slices.Contains(before, held) || !slices.Contains(before, billing) {
		t.Fatalf("after the Freezes workflow was terminated, freeze list --all shows %v; want %s and %s", before, billing, held)
	}
	if res := r.cli("freeze", "restore", "--empty", "--reason", "x", "--as", "sre"); res.code == 0 || !strings.Contains(res.stderr, "restore without --empty keeps them") {
		t.Errorf("restore --empty of a readable run: %s", res)
	}
	third := r.createFreeze("--service", "billing", "--reason", "after the restart")
	ids := freezeIDs(r.listFreezes())
	if slices.Contains(before, third) || !slices.Equal(append(before, third), ids) {
		t.Errorf("after freeze create on a terminated workflow: new %s, listed %v; before %v", third, ids, before)
	}
	r.assertFreezeAudit(third, "after the restart", cancelled, terminated)
	r.mustCLI("freeze", "lift", held, "--reason", "peak over", "--as", "cab")
	st = r.waitFor(id, "held release finished after the lift", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "staging", "production")

	t.Run("unreadable", func(t *testing.T) { refuseUnreadableFreezes(t, r) })
	t.Run("worker-restores", func(t *testing.T) { workerRestoresFreezes(t, r) })
}

// workerRestoresFreezes: a worker that starts while the Freezes workflow
// is closed starts it again with its freezes, without any freeze command,
// so a closed run cannot quietly outlive the namespace's retention.
func workerRestoresFreezes(t *testing.T, r *rig) {
	frz := r.createFreeze("--service", "billing", "--reason", "kept by the workers")
	run := r.stopFreezes("terminate")
	r.startWorker()
	eventually(t, "a starting worker restarted the Freezes workflow", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := r.rc.Temporal.DescribeWorkflow(ctx, freezes.WorkflowID, "")
		return err == nil && d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	if f, ok := r.freeze(frz); !ok || !f.LiftedAt.IsZero() {
		t.Errorf("after the worker's restart, freeze list --all shows %v; want %s active", freezeIDs(r.listFreezes()), frz)
	}
	eventually(t, "the restart audited", func() bool {
		return slices.ContainsFunc(r.auditRecords(""), func(e map[string]any) bool {
			return e["action"] == "freezes.restored" && e["actor"] == "runbook" && strings.Contains(e["id"].(string), run)
		})
	})
}

// refuseUnreadableFreezes: a Freezes run that failed before it could keep
// any state cannot be read back. freeze create refuses and says what to
// do; freeze restore --empty starts afresh, audited.
func refuseUnreadableFreezes(t *testing.T, r *rig) {
	r.stopFreezes("terminate")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run, err := r.rc.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: freezes.WorkflowID, TaskQueue: freezes.TaskQueue},
		freezes.WorkflowName, "not the state of a Freezes workflow")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err == nil {
		t.Fatal("a Freezes run started with a string for its state did not fail")
	}
	res := r.cli("freeze", "create", "--service", "billing", "--reason", "x", "--as", "cab")
	if res.code == 0 || !strings.Contains(res.stderr, "could not be read back") || !strings.Contains(res.stderr, "runbook freeze restore --empty") {
		t.Fatalf("freeze create on an unreadable closed run: %s", res)
	}
	if res := r.cli("freeze", "restore", "--empty", "--as", "sre"); res.code == 0 || !strings.Contains(res.stderr, "needs --reason") {
		t.Errorf("restore --empty without a reason: %s", res)
	}
	out := r.mustCLI("freeze", "restore", "--empty", "--reason", "history lost", "--as", "sre").stdout
	if !strings.Contains(out, "started the Freezes workflow empty") {
		t.Errorf("freeze restore --empty printed %q", out)
	}
	eventually(t, "freezes.reset audited", func() bool {
		return slices.ContainsFunc(r.auditRecords(""), func(e map[string]any) bool {
			return e["action"] == "freezes.reset" && e["actor"] == "sre" && strings.Contains(e["detail"].(string), "history lost")
		})
	})
	if fs := r.listFreezes(); len(fs) != 0 {
		t.Errorf("an empty restart lists %v", freezeIDs(fs))
	}
}

// stopFreezes cancels or terminates the running Freezes workflow, waits
// until its run has closed that way, checks that no workflow task failed on
// the way, and returns the run's ID.
func (r *rig) stopFreezes(how string) string {
	r.t.Helper()
	c := r.rc.Temporal
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.DescribeWorkflow(ctx, freezes.WorkflowID, "")
	if err != nil {
		r.t.Fatal(err)
	}
	run := d.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	want := enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
	if how == "cancel" {
		want = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
		err = c.CancelWorkflow(ctx, freezes.WorkflowID, run)
	} else {
		err = c.TerminateWorkflow(ctx, freezes.WorkflowID, run, "e2e: "+how)
	}
	if err != nil {
		r.t.Fatalf("%s the Freezes workflow: %v", how, err)
	}
	var status enumspb.WorkflowExecutionStatus
	deadline := time.Now().Add(pollDeadline)
	for status != want {
		if time.Now().After(deadline) {
			r.t.Fatalf("Freezes run %s is %s %s after %s, want %s", run, status, pollDeadline, how, want)
		}
		time.Sleep(pollInterval)
		qctx, qcancel := context.WithTimeout(context.Background(), 10*time.Second)
		if d, err := c.DescribeWorkflow(qctx, freezes.WorkflowID, run); err == nil {
			status = d.RawResponse.GetWorkflowExecutionInfo().GetStatus()
		}
		qcancel()
	}
	if how == "cancel" {
		for _, ev := range fetchHistory(r.t, c, freezes.WorkflowID, run).GetEvents() {
			if f := ev.GetWorkflowTaskFailedEventAttributes(); f != nil {
				r.t.Errorf("cancelling the Freezes workflow failed a workflow task: %s", f.GetFailure().GetMessage())
			}
		}
	}
	return run
}

// assertFreezeAudit checks that freeze id's creation is in the audit log
// once, with its own reason, and that each closed run's restart is too.
func (r *rig) assertFreezeAudit(id, reason string, closedRuns ...string) {
	r.t.Helper()
	recs := r.auditRecords("")
	var created []string
	restored := map[string]bool{}
	for _, e := range recs {
		switch e["action"] {
		case "freeze.created":
			if e["step"] == id {
				created = append(created, e["detail"].(string))
			}
		case "freezes.restored":
			restored[strings.Split(e["id"].(string), "/")[2]] = true
		}
	}
	if len(created) != 1 || !strings.HasSuffix(created[0], reason) {
		r.t.Errorf("audit records of %s's creation: %q; want one ending %q", id, created, reason)
	}
	for _, run := range closedRuns {
		if !restored[run] {
			r.t.Errorf("audit log does not record the restart after run %s closed (restored: %v)", run, restored)
		}
	}
}

// heldBy reports whether a step of an environment is held by freeze id.
func heldBy(envName, stepName, id string) func(workflows.ReleaseStatus) bool {
	return func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Name == envName && strings.Contains(stepDetail(e, stepName), "held by freeze "+id+" ")
	}
}

// freezeIDs lists the IDs of fs.
func freezeIDs(fs []freezes.Freeze) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}
