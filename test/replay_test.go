package test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runbookhq/runbook/workflows"
)

// historiesDir holds captured workflow histories (protojson of
// temporal.api.history.v1.History), replayed against the current workflow
// code so a change that breaks running releases fails here.
const historiesDir = "testdata/histories"

// maxFixtureBytes bounds one captured history: fixtures live in git forever.
const maxFixtureBytes = 400 << 10

// TestReplay replays every captured history with the current workflows and
// fails on non-determinism.
func TestReplay(t *testing.T) {
	if *updateHistories {
		t.Skip("histories are being regenerated; each one is replayed as it is written")
	}
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("want at least 3 histories in %s, have %d; capture them with: go test ./test/ -run 'TestDeployApproveSucceed|TestRejectRollsBackInReverse' -update-histories", historiesDir, len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			replay(t, f)
		})
	}
}

// TestReplayDetectsNonDeterminism proves the replay test can fail: the
// captured environment history replayed against different code must be
// refused.
func TestReplayDetectsNonDeterminism(t *testing.T) {
	if *updateHistories {
		t.Skip("histories are being regenerated")
	}
	f := filepath.Join(historiesDir, "environment-approved.json")
	if _, err := os.Stat(f); err != nil {
		t.Fatalf("%s is missing: %v", f, err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.Release)
	// Same name and signature, different commands: a timer where the real
	// workflow writes its first audit record.
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.EnvironmentInput) (workflows.EnvironmentResult, error) {
		return workflows.EnvironmentResult{}, workflow.Sleep(ctx, time.Hour)
	}, workflow.RegisterOptions{Name: workflows.EnvironmentWorkflowName})
	err := r.ReplayWorkflowHistoryFromJSONFile(quietLogger{}, f)
	if err == nil {
		t.Fatal("replaying the environment history against different code succeeded; the replayer does not check determinism")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "nondetermin") {
		t.Fatalf("replay failed, but not for non-determinism: %v", err)
	}
	t.Logf("refused as expected: %v", err)
}

func replay(t *testing.T, file string) {
	t.Helper()
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.Release)
	r.RegisterWorkflow(workflows.Environment)
	r.RegisterWorkflow(workflows.Freezes)
	r.RegisterWorkflow(workflows.Drift)
	if err := r.ReplayWorkflowHistoryFromJSONFile(quietLogger{}, file); err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
}

// fetchHistory reads a closed workflow's full history.
func fetchHistory(t testing.TB, c client.Client, workflowID, runID string) *historypb.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, ev)
	}
	if len(h.Events) == 0 {
		t.Fatalf("history of %s is empty", workflowID)
	}
	return h
}

// exportHistory writes a workflow's history to testdata/histories/name.json
// when -update-histories is set, and replays it right away. It never
// overwrites a fixture: a committed history stands for releases in flight
// and is append-only evidence, so a changed behaviour gets a new name.
func exportHistory(t *testing.T, c client.Client, workflowID, runID, name string) {
	t.Helper()
	if !*updateHistories {
		return
	}
	path := filepath.Join(historiesDir, name+".json")
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s exists and fixtures are never overwritten; capture a changed behaviour under a new name (or delete an uncommitted capture first)", path)
		return
	}
	h := fetchHistory(t, c, workflowID, runID)
	last := h.Events[len(h.Events)-1].GetEventType()
	if last == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED || last == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
		t.Fatalf("history of %s is not closed (last event %s); export it after the workflow ends", workflowID, last)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > maxFixtureBytes {
		t.Errorf("history of %s is %d KB, over the %d KB a fixture may take; capture a shorter scenario (fewer weights, shorter bakes)", workflowID, len(b)>>10, maxFixtureBytes>>10)
		return
	}
	if err := os.MkdirAll(historiesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d events)", path, len(h.Events))
	replay(t, path)
}

// exportRelease captures a finished release's history as release-name and
// its environment envName's as environment-name.
func (r *rig) exportRelease(t *testing.T, st workflows.ReleaseStatus, envName, name string) {
	t.Helper()
	e := env(t, st, envName)
	exportHistory(t, r.rc.Temporal, st.ReleaseID, "", "release-"+name)
	exportHistory(t, r.rc.Temporal, e.WorkflowID, e.RunID, "environment-"+name)
}

// historyText is every string and byte field of a history (so payloads
// appear decoded, not base64), one per line, for a test to check that a value
// never reached history in any form.
func historyText(h *historypb.History) string {
	var b bytes.Buffer
	var walk func(m protoreflect.Message)
	value := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
		switch fd.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			walk(v.Message())
		case protoreflect.BytesKind:
			b.Write(v.Bytes())
			b.WriteByte('\n')
		case protoreflect.StringKind:
			b.WriteString(v.String())
			b.WriteByte('\n')
		}
	}
	walk = func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList():
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					value(fd, l.Get(i))
				}
			case fd.IsMap():
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					b.WriteString(k.String())
					b.WriteByte('\n')
					value(fd.MapValue(), mv)
					return true
				})
			default:
				value(fd, v)
			}
			return true
		})
	}
	walk(h.ProtoReflect())
	return b.String()
}
