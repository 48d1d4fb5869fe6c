package releases

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/workflows"
)

// notReadyFirst answers the first n Updates as the server does when the
// workflow task carrying one failed before it ran (WorkflowNotReady), then
// takes them. It is a stand-in for a race the real server shows only now
// and then (a workflow closing as a signal's acknowledgement arrives).
type notReadyFirst struct {
	client.Client
	n   int
	ids []string
}

func (f *notReadyFirst) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.ids = append(f.ids, o.UpdateID)
	if len(f.ids) <= f.n {
		return nil, serviceerror.NewWorkflowNotReady("Unable to perform workflow execution update due to unexpected workflow task failure.")
	}
	return doneUpdate{}, nil
}

type doneUpdate struct{ client.WorkflowUpdateHandle }

func (doneUpdate) Get(context.Context, any) error { return nil }

// TestUpdateRetriedWhenItsTaskFailed: an Update the server aborts because
// its workflow task failed is sent again under the same Update ID, a few
// times at most; other refusals are not retried.
func TestUpdateRetriedWhenItsTaskFailed(t *testing.T) {
	env := workflows.EnvironmentStatus{Name: "production", WorkflowID: "deploy/a/production", RunID: "r1"}
	f := &notReadyFirst{n: 2}
	c := &Client{Temporal: f}
	if err := c.update(t.Context(), env, workflows.UpdateApprove, workflows.DecisionInput{Actor: "carol"}, nil); err != nil {
		t.Fatalf("update after two aborted tries: %v", err)
	}
	if len(f.ids) != 3 || f.ids[0] == "" || f.ids[1] != f.ids[0] || f.ids[2] != f.ids[0] {
		t.Fatalf("update IDs of the tries: %q, want three of one ID", f.ids)
	}

	f = &notReadyFirst{n: 10}
	c = &Client{Temporal: f}
	err := c.update(t.Context(), env, workflows.UpdateApprove, workflows.DecisionInput{Actor: "carol"}, nil)
	var notReady *serviceerror.WorkflowNotReady
	if !errors.As(err, &notReady) || len(f.ids) != updateAttempts {
		t.Fatalf("update that never gets through: %v after %d tries, want WorkflowNotReady after %d", err, len(f.ids), updateAttempts)
	}
}
