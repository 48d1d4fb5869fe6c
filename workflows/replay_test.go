package workflows_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/workflows"
)

// historiesDir holds the captured workflow histories (protojson of
// temporal.api.history.v1.History). They stand for workflows that were in
// flight or finished when the code changed; see its README.md.
const historiesDir = "../test/testdata/histories"

// workflowTypes maps each workflow type name a worker registers (the
// worker registers exactly workflows.Registrations) to its function: a
// history is replayed against the function of the type its first event
// started, so a fixture of a type no worker serves fails.
var workflowTypes = func() map[string]any {
	m := map[string]any{}
	for _, r := range workflows.Registrations {
		m[r.Name] = r.Fn
	}
	return m
}()

// TestReplay replays every captured history against the current workflow
// code and fails on non-determinism.
func TestReplay(t *testing.T) {
	files := historyFiles(t)
	if len(files) == 0 {
		t.Fatalf("no captured histories in %s", historiesDir)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			h := readHistory(t, f)
			typ := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
			fn, ok := workflowTypes[typ]
			if !ok {
				t.Fatalf("%s starts a workflow of type %q, which no worker registers (known: %v)", f, typ, typeNames())
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: typ})
			if err := r.ReplayWorkflowHistoryWithOptions(quietLogger(), h, originalExecution(h)); err != nil {
				t.Fatalf("replay %s (%s): %v", f, typ, err)
			}
		})
	}
}

// TestReplayDetectsNonDeterminism proves the replay test can fail: the
// captured environment history replayed against different code must be
// refused.
func TestReplayDetectsNonDeterminism(t *testing.T) {
	f := filepath.Join(historiesDir, "environment-approved.json")
	h := readHistory(t, f)
	r := worker.NewWorkflowReplayer()
	// Same name and signature, different commands: a timer where the real
	// workflow writes its first audit record.
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.EnvironmentInput) (workflows.EnvironmentResult, error) {
		return workflows.EnvironmentResult{}, workflow.Sleep(ctx, time.Hour)
	}, workflow.RegisterOptions{Name: workflows.EnvironmentWorkflowName})
	err := r.ReplayWorkflowHistory(quietLogger(), h)
	if err == nil {
		t.Fatal("replaying the environment history against different code succeeded; the replayer does not check determinism")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "nondetermin") {
		t.Fatalf("replay failed, but not for non-determinism: %v", err)
	}
	t.Logf("refused as expected: %v", err)
}

// historyFiles lists the captured histories.
func historyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readHistory loads one captured history; it must start a workflow.
// originalExecution replays a history under the workflow ID it ran with
// (its start event has it), not the replayer's "ReplayId": signed decisions
// name their workflow, and the verification in the Update handler compares
// it with the run's own ID, as a worker replaying the real run does.
func originalExecution(h *historypb.History) worker.ReplayWorkflowHistoryOptions {
	id := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
	return worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}}
}

func readHistory(t *testing.T, file string) *historypb.History {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(h.GetEvents()) == 0 || h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		t.Fatalf("%s does not begin with a WorkflowExecutionStarted event", file)
	}
	return h
}

func typeNames() []string {
	var names []string
	for n := range workflowTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestReplayBegunByOlderWorker: a release or an environment given version 3
// of lean-release in its input, whose first workflow task a worker from
// before that input field ran (asking the version and recording its own
// answer), replays as that worker ran it. Built from captured histories
// with the field added to their input in memory.
func TestReplayBegunByOlderWorker(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   any
		typ  string
	}{
		{"environment-lean-v2-approved", workflows.Environment, workflows.EnvironmentWorkflowName},
		{"environment-lean-v3-approved", workflows.Environment, workflows.EnvironmentWorkflowName},
		{"release-lean-v2-approved", workflows.Release, workflows.ReleaseWorkflowName},
		{"release-lean-v3-approved", workflows.Release, workflows.ReleaseWorkflowName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := readHistory(t, filepath.Join(historiesDir, tc.name+".json"))
			p := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
			var in map[string]any
			if err := json.Unmarshal(p.GetData(), &in); err != nil {
				t.Fatalf("input of %s: %v", tc.name, err)
			}
			if _, ok := in["lean"]; ok {
				t.Fatalf("%s already has a lean field in its input", tc.name)
			}
			in["lean"] = workflows.LeanMax
			data, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			p.Data = data
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(tc.fn, workflow.RegisterOptions{Name: tc.typ})
			if err := r.ReplayWorkflowHistoryWithOptions(quietLogger(), h, originalExecution(h)); err != nil {
				t.Fatalf("replay %s with lean %d in its input: %v", tc.name, workflows.LeanMax, err)
			}
		})
	}
}
