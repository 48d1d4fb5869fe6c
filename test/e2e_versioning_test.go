package test

// Worker Versioning end to end, on the real dev server with two real
// worker builds: A (the normal build) and B (built with -tags
// versioningtest, whose Release starts with a timer A's histories do not
// have). A release waiting at its gate on A finishes on A after B became
// current, a new release runs on B, and a release moved off its pin onto B
// fails B's replay with a non-determinism error: the pin is what kept the
// first one safe.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/workflows"
)

// versioningRunbook is one environment behind an approval gate; each
// release gets its own service (X.Name), so no release waits for
// another's lock.
const versioningRunbook = `api-version: runbook/v1
service: {{.Service}}-{{.X.Name}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    approvals:
      - name: release-manager
        approvers: [bob, carol]
        timeout: 1h
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/{{.X.Name}}/healthz
          interval: 250ms
`

const (
	buildA = "build-a"
	buildB = "build-b"
)

func TestE2EWorkerVersioningKeepsReleasesOnTheirBuild(t *testing.T) {
	t.Parallel()
	r := newRig(t, "versioning")
	r.inNamespace(versioningNamespace)
	tbin, err := findTemporal()
	if err != nil {
		t.Fatal(err)
	}
	binB := versioningTestBinary(t)
	rec := newRecorder(t)
	deployment := "runbook-" + r.queue
	c := r.rc.Temporal

	// A starts alone: the first version of a new deployment makes itself
	// current, so no one has to before tasks flow.
	workerA := r.startWorker(versionedEnv(deployment, buildA)...)
	waitCurrentVersion(t, c, deployment, buildA)
	assertLogged(t, workerA, "worker running", "deployment="+deployment, "build_id="+buildA, "version=")
	first := r.deployNamed(rec, "first")
	moved := r.deployNamed(rec, "moved")
	st1 := r.waitFor(first, "first waits at its gate on A", gateWaiting("production", "release-manager"))
	r.waitFor(moved, "moved waits at its gate on A", gateWaiting("production", "release-manager"))
	assertPinnedTo(t, c, buildA, first, env(t, st1, "production").WorkflowID, moved)

	// B beside A, ramped, then current, with the README's commands.
	workerB := r.startWorkerCmd(binB, []string{"worker"}, versionedEnv(deployment, buildB)...)
	waitVersionPolling(t, c, deployment, buildB, buildA)
	temporalCLI(t, tbin, "worker", "deployment", "set-ramping-version", "--deployment-name", deployment, "--build-id", buildB, "--percentage", "50", "--yes")
	temporalCLI(t, tbin, "worker", "deployment", "set-current-version", "--deployment-name", deployment, "--build-id", buildB, "--yes")
	waitCurrentVersion(t, c, deployment, buildB)

	second := r.deployNamed(rec, "second")
	st2 := r.waitFor(second, "second waits at its gate", gateWaiting("production", "release-manager"))
	assertPinnedTo(t, c, buildB, second, env(t, st2, "production").WorkflowID)
	// The README's query for what still runs on A finds the two pinned there.
	// (Visibility follows the workflows a moment later: poll.)
	query := "TemporalWorkerDeploymentVersion='" + deployment + ":" + buildA + "' AND ExecutionStatus='Running' AND WorkflowType='" + workflows.ReleaseWorkflowName + "'"
	var onA string
	eventually(t, "the list of releases running on "+buildA+" shows first and moved", func() bool {
		onA = temporalCLI(t, tbin, "workflow", "list", "--query", query)
		return strings.Contains(onA, first) && strings.Contains(onA, moved)
	})
	if strings.Contains(onA, second) {
		t.Errorf("releases listed as running on %s:\n%s\nwant %s and %s, not %s", buildA, onA, first, moved, second)
	}

	// The first release finishes on A, every task of it by A's build.
	r.mustCLI("approve", first, "--as", "bob")
	st1 = r.waitFor(first, "first succeeded", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st1, "production")
	assertTasksBy(t, c, buildA, first, env(t, st1, "production").WorkflowID)
	r.mustCLI("approve", second, "--as", "bob")
	st2 = r.waitFor(second, "second succeeded", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st2, "production")
	assertTasksBy(t, c, buildB, second, env(t, st2, "production").WorkflowID)
	if ev := fetchHistory(t, c, second, "").GetEvents(); !slices.ContainsFunc(ev, func(e *historypb.HistoryEvent) bool { return e.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED }) {
		t.Errorf("second's history has no timer: it did not run B's code")
	}

	for _, w := range []*workerProc{workerA, workerB} {
		if b, _ := os.ReadFile(w.log); strings.Contains(string(b), "[TMPRL1100]") {
			t.Errorf("worker log %s has a non-determinism error before any release was moved:\n%s", w.log, b)
		}
	}

	// Unpinned, A's release meets B's code: B cannot replay it.
	temporalCLI(t, tbin, "workflow", "update-options", "--workflow-id", moved, "--versioning-override-behavior", "auto_upgrade")
	if err := c.SignalWorkflow(context.Background(), moved, "", "versioning-test-nudge", nil); err != nil {
		t.Fatalf("signal %s: %v", moved, err)
	}
	onB := fmt.Sprintf("%d@", workerB.cmd.Process.Pid)
	eventually(t, moved+" fails its workflow task on B with a non-determinism error", func() bool {
		return slices.ContainsFunc(fetchHistory(t, c, moved, "").GetEvents(), nondeterministicBy(onB))
	})
	if err := c.TerminateWorkflow(context.Background(), moved, "", "versioning test: left broken on purpose"); err != nil {
		t.Fatalf("terminate %s: %v", moved, err)
	}
}

// A worker makes its build current only in a deployment where no version
// ever was: after an operator's rollback to unversioned workers, a
// restarted worker leaves the routing alone.
func TestE2EWorkerVersioningBootstrapsOnlyANewDeployment(t *testing.T) {
	t.Parallel()
	r := newRig(t, "versioning-boot")
	r.inNamespace(versioningNamespace)
	tbin, err := findTemporal()
	if err != nil {
		t.Fatal(err)
	}
	deployment := "runbook-" + r.queue
	c := r.rc.Temporal
	w := r.startWorker(versionedEnv(deployment, buildA)...)
	waitCurrentVersion(t, c, deployment, buildA)
	temporalCLI(t, tbin, "worker", "deployment", "set-current-version", "--deployment-name", deployment, "--unversioned", "--yes")
	w.stop()
	again := r.startWorker(versionedEnv(deployment, buildA)...)
	// Either way it says what it did (made itself current, or found a
	// version someone chose).
	eventually(t, "the restarted worker looked at the deployment", func() bool {
		b, _ := os.ReadFile(again.log)
		return strings.Contains(string(b), "worker deployment: ")
	})
	d, err := c.WorkerDeploymentClient().GetHandle(deployment).Describe(context.Background(), client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur := d.Info.RoutingConfig.CurrentVersion; cur != nil {
		t.Errorf("after a rollback to unversioned, a restarted worker made %s current", cur.BuildID)
	}
}

// versionedEnv puts a worker in deployment under build ID build.
func versionedEnv(deployment, build string) []string {
	return []string{"RUNBOOK_DEPLOYMENT_NAME=" + deployment, "RUNBOOK_BUILD_ID=" + build}
}

// deployNamed starts the release of versioningRunbook for service
// <rig service>-name, version 1.0.0, and returns its ID.
func (r *rig) deployNamed(rec *recorder, name string) string {
	r.t.Helper()
	path, digest := r.writeRunbook(name+".yaml", versioningRunbook, map[string]any{"URL": rec.srv.URL, "Name": name})
	res := r.mustCLI("deploy", path, "--version", "1.0.0", "--digest", digest, "--as", "alice")
	id := workflows.ReleaseID(r.service+"-"+name, "1.0.0")
	if !strings.Contains(res.stdout, id) {
		r.t.Fatalf("deploy did not print the release ID %s:\n%s", id, res)
	}
	return id
}

var versioningBuild struct {
	once sync.Once
	bin  string
	err  error
}

// versioningTestBinary builds runbook with -tags versioningtest (once per
// test run).
func versioningTestBinary(t *testing.T) string {
	t.Helper()
	versioningBuild.once.Do(func() {
		if versioningBuild.err = ensureTmp(); versioningBuild.err != nil {
			return
		}
		versioningBuild.bin = filepath.Join(stack.tmp, "runbook-versioningtest")
		cmd := exec.Command("go", "build", "-tags", "versioningtest", "-o", versioningBuild.bin, "./cmd/runbook")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			versioningBuild.err = err
			t.Logf("go build -tags versioningtest:\n%s", out)
		}
	})
	if versioningBuild.err != nil {
		t.Fatalf("build runbook with -tags versioningtest: %v", versioningBuild.err)
	}
	return versioningBuild.bin
}

// temporalCLI runs the temporal CLI against the test's namespace and
// returns its output, failing the test on an error.
func temporalCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "--address", stack.server.Address, "--namespace", versioningNamespace)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	t.Logf("$ temporal %s\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// assertLogged checks that one line of the worker's log has every part.
func assertLogged(t *testing.T, w *workerProc, parts ...string) {
	t.Helper()
	b, err := os.ReadFile(w.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(line, p) }) {
			return
		}
	}
	t.Errorf("no line of the worker log has all of %q:\n%s", parts, b)
}

// waitCurrentVersion polls until build is the deployment's current version.
func waitCurrentVersion(t *testing.T, c client.Client, deployment, build string) {
	t.Helper()
	h := c.WorkerDeploymentClient().GetHandle(deployment)
	eventually(t, build+" is the current version of "+deployment, func() bool {
		d, err := h.Describe(context.Background(), client.WorkerDeploymentDescribeOptions{})
		cur := d.Info.RoutingConfig.CurrentVersion
		return err == nil && cur != nil && cur.BuildID == build
	})
}

// waitVersionPolling polls until the server has seen build poll every
// task queue (and task type) that build like polls: set-ramping-version
// refuses a version that would leave one of them unversioned.
func waitVersionPolling(t *testing.T, c client.Client, deployment, build, like string) {
	t.Helper()
	h := c.WorkerDeploymentClient().GetHandle(deployment)
	queues := func(build string) map[string]bool {
		d, err := h.DescribeVersion(context.Background(), client.WorkerDeploymentDescribeVersionOptions{BuildID: build})
		if err != nil {
			return nil
		}
		out := map[string]bool{}
		for _, q := range d.Info.TaskQueuesInfos {
			out[fmt.Sprintf("%s/%d", q.Name, q.Type)] = true
		}
		return out
	}
	eventually(t, build+" polls every task queue "+like+" does in "+deployment, func() bool {
		want, got := queues(like), queues(build)
		for q := range want {
			if !got[q] {
				return false
			}
		}
		return len(want) > 0
	})
}

// assertPinnedTo checks that each workflow is pinned to build.
func assertPinnedTo(t *testing.T, c client.Client, build string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		d, err := c.DescribeWorkflow(context.Background(), id, "")
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		vi := d.RawResponse.GetWorkflowExecutionInfo().GetVersioningInfo()
		if vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED || vi.GetDeploymentVersion().GetBuildId() != build {
			t.Errorf("%s: versioning behavior %s on build %q, want pinned on %s", id, vi.GetBehavior(), vi.GetDeploymentVersion().GetBuildId(), build)
		}
	}
}

// assertTasksBy checks that build, and only it, completed every workflow
// task of each workflow, and that none failed.
func assertTasksBy(t *testing.T, c client.Client, build string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		builds := map[string]int{}
		for _, e := range fetchHistory(t, c, id, "").GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				builds[e.GetWorkflowTaskCompletedEventAttributes().GetDeploymentVersion().GetBuildId()]++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				a := e.GetWorkflowTaskFailedEventAttributes()
				t.Errorf("%s: workflow task %d failed (%s): %s", id, e.GetEventId(), a.GetCause(), a.GetFailure().GetMessage())
			}
		}
		if len(builds) != 1 || builds[build] == 0 {
			t.Errorf("%s: workflow tasks completed by builds %v, want all by %s", id, builds, build)
		}
	}
}

// nondeterministicBy matches a workflow task that failed with the SDK's
// non-determinism error (TMPRL1100) on the worker whose identity starts
// with identity (its pid@).
func nondeterministicBy(identity string) func(*historypb.HistoryEvent) bool {
	return func(e *historypb.HistoryEvent) bool {
		a := e.GetWorkflowTaskFailedEventAttributes()
		return a != nil && strings.HasPrefix(a.GetIdentity(), identity) &&
			(a.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR || strings.Contains(a.GetFailure().GetMessage(), "[TMPRL1100]"))
	}
}
