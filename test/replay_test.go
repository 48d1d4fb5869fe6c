package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/runbookhq/runbook/workflows"
)

// historiesDir holds captured workflow histories (protojson of
// temporal.api.history.v1.History). They are append-only evidence: see its
// README.md; workflows/replay_test.go replays them and checks the manifest.
const historiesDir = "testdata/histories"

// historiesManifest lists every captured history with its SHA-256.
const historiesManifest = "SHA256SUMS"

// maxFixtureBytes bounds one captured history: fixtures live in git forever.
const maxFixtureBytes = 400 << 10

// replay replays a history just captured against the current workflows; the
// replay test of every captured history lives next to the workflow code
// (workflows/replay_test.go).
func replay(t *testing.T, file string) {
	t.Helper()
	r := worker.NewWorkflowReplayer()
	for _, reg := range workflows.Registrations {
		r.RegisterWorkflowWithOptions(reg.Fn, workflow.RegisterOptions{Name: reg.Name})
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// Under the workflow ID it ran with, as workflows/replay_test.go does:
	// signed decisions name their workflow.
	id := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
	opts := worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}}
	if err := r.ReplayWorkflowHistoryWithOptions(quietLogger{}, h, opts); err != nil {
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
// when -update-histories is set, lists it in the manifest and replays it
// right away. Captured histories are never overwritten: a name that exists
// is kept as it is, so capturing a changed behaviour needs a new name.
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
	b = append(b, '\n')
	if err := os.MkdirAll(historiesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	appendManifest(t, name+".json", b)
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

// appendManifest adds a new fixture's line to the manifest.
func appendManifest(t *testing.T, file string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(historiesDir, historiesManifest), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(f, "%x  %s\n", sha256.Sum256(b), file); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
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

// assertKeptLastEnvironment checks that a finished release keeps
// RunbookEnvironment at the last environment it reached and that its
// history records the keep-last-environment version, so the release can be
// told apart from those that ended before the version existed.
func assertKeptLastEnvironment(t *testing.T, c client.Client, releaseID, env string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := c.DescribeWorkflow(ctx, releaseID, "")
	if err != nil {
		t.Fatalf("describe %s: %v", releaseID, err)
	}
	if got, _ := d.TypedSearchAttributes.GetKeyword(workflows.AttrEnvironment); got != env {
		t.Errorf("finished release %s has RunbookEnvironment %q, want the last environment it reached, %q", releaseID, got, env)
	}
	// A lean release (lean-release version, asked or given by the client
	// in its input) keeps it without asking the older version.
	h := fetchHistory(t, c, releaseID, "")
	var in workflows.ReleaseInput
	if p := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads(); len(p) > 0 {
		_ = converter.GetDefaultDataConverter().FromPayload(p[0], &in)
	}
	if text := historyText(h); !strings.Contains(text, "keep-last-environment") && !strings.Contains(text, "lean-release") && in.Lean < 3 {
		t.Errorf("the history of %s records neither the keep-last-environment nor the lean-release version, nor was it given one", releaseID)
	}
}
