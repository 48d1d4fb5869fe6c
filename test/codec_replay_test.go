package test

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/workflows"
)

// codecReplayer is a replayer of every workflow type that decodes as a
// worker with codec c does (the default converters when c is nil).
func codecReplayer(t *testing.T, c *codec.Codec) worker.WorkflowReplayer {
	t.Helper()
	var opts worker.WorkflowReplayerOptions
	if c != nil {
		opts.DataConverter = converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
		opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: opts.DataConverter, EncodeCommonAttributes: true})
	}
	r, err := worker.NewWorkflowReplayerWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range workflows.Registrations {
		r.RegisterWorkflowWithOptions(reg.Fn, workflow.RegisterOptions{Name: reg.Name})
	}
	return r
}

// replayHistory replays h under the workflow ID it ran with.
func replayHistory(r worker.WorkflowReplayer, h *historypb.History) error {
	id := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
	return r.ReplayWorkflowHistoryWithOptions(quietLogger{}, h, worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}})
}

// TestReplayPlaintextWithCodec: a worker that turned encryption on still
// replays every captured (plaintext) history: unencrypted payloads pass
// through its codec.
func TestReplayPlaintextWithCodec(t *testing.T) {
	t.Parallel()
	key := make([]byte, codec.KeySize)
	_, _ = rand.Read(key)
	c, err := codec.New("replay=" + base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	r := codecReplayer(t, c)
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured histories in %s: %v", historiesDir, err)
	}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		_ = f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := replayHistory(r, h); err != nil {
			t.Errorf("replay %s with a codec: %v", filepath.Base(file), err)
		}
	}
	t.Logf("%d captured histories replayed through the codec", len(files))
}

// assertEncryptedReplay replays an encrypted history: with the keys it
// replays, without them it cannot even read its input.
func assertEncryptedReplay(t *testing.T, c *codec.Codec, h *historypb.History) {
	t.Helper()
	if err := replayHistory(codecReplayer(t, c), h); err != nil {
		t.Errorf("replay of the encrypted history with its keys: %v", err)
	}
	err := replayHistory(codecReplayer(t, nil), h)
	if err == nil || !strings.Contains(err.Error(), "binary/encrypted") {
		t.Errorf("replay of the encrypted history without keys: %v, want a failure to decode binary/encrypted", err)
	}
}
