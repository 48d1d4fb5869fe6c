package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/devstack"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// rotateRunbook is one environment whose only step a freeze holds.
const rotateRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    steps:
      - name: deploy
        http-check:
          url: {{.X}}/production/${version}
          interval: 250ms
`

// suggestContinueAsNewAfter is the history length past which the rotating
// server suggests continue-as-new: a few freeze requests' worth, where a real
// server waits for thousands of events.
const suggestContinueAsNewAfter = 30

// TestFreezesContinueAsNew: the Freezes workflow lives for years, so it
// continues as new when Temporal suggests it. On a server of its own that
// suggests it after a few events, freezes created in one run are listed,
// given new IDs and lifted in the next, and a release held by a freeze across
// the rotation goes on as soon as the freeze is lifted in the new run: the
// held environment's registration survived the rotation.
func TestFreezesContinueAsNew(t *testing.T) {
	t.Parallel()
	r := newRig(t, "freeze-rotate")
	r.onServer(startRotatingServer(t))
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", rotateRunbook, rec.srv.URL)

	// The server is the test's own: its freezes need no lifting at the end.
	held := r.newFreeze("--env", "production", "--reason", "quarter close")
	id := r.deploy(path, digest, "1.0.0", requester)
	r.waitFor(id, "deploy held by "+held, func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && strings.Contains(stepDetail(e, "deploy"), "held by freeze "+held+" ")
	})
	first := r.freezesRun()
	ids := []string{held}
	ids = append(ids, r.createUntilRotated(first)...)
	second := r.freezesRun()

	listed := map[string]bool{}
	for _, f := range r.listFreezes() {
		listed[f.ID] = f.LiftedAt.IsZero()
	}
	for _, id := range ids {
		if !listed[id] {
			t.Errorf("after the continue-as-new %s is not listed as active; freeze list --all has %v", id, listed)
		}
	}
	// IDs come from the create Update, not from a per-run counter: a new
	// run never hands out an ID an earlier run used.
	if got := r.newFreeze("--service", "other", "--reason", "numbered on"); !strings.HasPrefix(got, "freeze-") || listed[got] || slices.Contains(ids, got) {
		t.Errorf("the first freeze of the new run is %q, which is not a new freeze ID (earlier: %v)", got, ids)
	}
	if got := rec.requests("/production"); len(got) != 0 {
		t.Fatalf("production was changed during the freeze: %v", paths(got))
	}
	r.mustCLI("freeze", "lift", held, "--reason", "close done", "--as", "cab")
	st := r.waitFor(id, "release succeeded after the lift in the new run", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "production")

	// A second rotation, so the run that started from carried state ends
	// too, and both runs can be kept.
	r.createUntilRotated(second)
	exportHistory(t, r.rc.Temporal, freezes.WorkflowID, first, "freezes-continued-as-new")
	exportHistory(t, r.rc.Temporal, freezes.WorkflowID, second, "freezes-carried-over-continued-as-new")
}

// startRotatingServer starts a dev server of the test's own that suggests
// continue-as-new after suggestContinueAsNewAfter events (the shared server
// keeps Temporal's defaults), and returns its address and a client.
func startRotatingServer(t *testing.T) (string, client.Client) {
	t.Helper()
	bin, err := findTemporal()
	if err != nil {
		t.Fatalf("temporal CLI: %v", err)
	}
	logPath := filepath.Join(t.TempDir(), "temporal.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devstack.Start(ctx, devstack.Options{Bin: bin, Port: -1, UIPort: -1, Log: logf,
		DynamicConfig: []string{fmt.Sprintf("limit.historyCount.suggestContinueAsNew=%d", suggestContinueAsNewAfter)}})
	if err != nil {
		t.Fatalf("dev server: %v\n%s", err, tail(logPath, 40))
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.Address, Namespace: namespace, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := releases.EnsureSearchAttributes(ctx, c, namespace); err != nil {
		t.Fatal(err)
	}
	return srv.Address, c
}

// onServer moves the rig to another Temporal server: its CLI, workers and
// client.
func (r *rig) onServer(address string, c client.Client) {
	for i, kv := range r.env {
		if strings.HasPrefix(kv, "TEMPORAL_ADDRESS=") {
			r.env[i] = "TEMPORAL_ADDRESS=" + address
		}
	}
	r.rc = &releases.Client{Temporal: c, Namespace: namespace, TaskQueue: r.queue}
}

// freezesRun is the run ID of the Freezes workflow's current run.
func (r *rig) freezesRun() string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := r.rc.Temporal.DescribeWorkflow(ctx, freezes.WorkflowID, "")
	if err != nil {
		r.t.Fatalf("describe %s: %v", freezes.WorkflowID, err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// createUntilRotated creates freezes of other services (holding nothing of
// the test's) until the Freezes workflow's run is no longer run, and
// returns their IDs. Each request lengthens the history, so the server's
// suggestion comes within a few.
func (r *rig) createUntilRotated(run string) []string {
	r.t.Helper()
	var ids []string
	for r.freezesRun() == run {
		if len(ids) == suggestContinueAsNewAfter {
			r.t.Fatalf("%d freezes created and %s is still in run %s; it does not continue as new", len(ids), freezes.WorkflowID, run)
		}
		ids = append(ids, r.newFreeze("--service", fmt.Sprintf("other-%d", len(ids)), "--reason", "filler"))
	}
	r.t.Logf("%s continued as new after %d more freezes", freezes.WorkflowID, len(ids))
	return ids
}
