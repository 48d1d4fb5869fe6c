package releases

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/workflows"
)

// CreateFreeze creates a change freeze, starting the namespace's Freezes
// workflow if this is the first one. A refused freeze (no reason, an end in
// the past) leaves no trace.
func (c *Client) CreateFreeze(ctx context.Context, in freezes.CreateInput) (freezes.Freeze, error) {
	start := c.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       freezes.WorkflowID,
		TaskQueue:                freezes.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "Change freezes: create, list and lift them with runbook freeze",
	}, workflows.Freezes, workflows.FreezesInput{})
	h, err := c.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: freezes.UpdateCreate, Args: []any{in}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	return freezeResult(ctx, h, err)
}

// LiftFreeze ends a freeze now; held releases continue at once.
func (c *Client) LiftFreeze(ctx context.Context, in freezes.LiftInput) (freezes.Freeze, error) {
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: freezes.WorkflowID, UpdateName: freezes.UpdateLift, Args: []any{in},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return freezes.Freeze{}, fmt.Errorf("no freeze %q: no freeze was ever created in namespace %s", in.ID, c.Namespace)
	}
	return freezeResult(ctx, h, err)
}

// freezeResult waits for a freeze Update's result; a refusal reads as the
// validator's sentence.
func freezeResult(ctx context.Context, h client.WorkflowUpdateHandle, err error) (freezes.Freeze, error) {
	var f freezes.Freeze
	if err == nil {
		err = h.Get(ctx, &f)
	}
	if err != nil {
		return freezes.Freeze{}, refused("freeze", err)
	}
	return f, nil
}

// Freezes lists every freeze the Freezes workflow keeps.
func (c *Client) Freezes(ctx context.Context) ([]freezes.Freeze, error) {
	return freezes.List(ctx, c.Temporal)
}
