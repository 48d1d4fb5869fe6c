package releases

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/workflows"
)

// freezesSummary is the Freezes workflow's summary in the Web UI.
const freezesSummary = "Change freezes: create, list and lift them with runbook freeze"

// errNoFreezes says the namespace has never had a Freezes workflow.
var errNoFreezes = errors.New("no Freezes workflow")

// CreateFreeze creates a change freeze. It starts the namespace's Freezes
// workflow when none runs: empty the first time, with the state of the
// last run when that run closed (cancelled, terminated), so no freeze
// vanishes; when that state cannot be read back it refuses and says what
// to do. A refused freeze (no reason, an end in the past) leaves no trace.
// With a Signer the freeze is signed as in.Actor (FreezeCreateClaim); a
// worker with trust roots refuses an unsigned one.
func (c *Client) CreateFreeze(ctx context.Context, in freezes.CreateInput) (freezes.Freeze, error) {
	p, err := c.sign(ctx, workflows.FreezeCreateClaim(in), in.Actor)
	if err != nil {
		return freezes.Freeze{}, err
	}
	in.Proof, in.Actor = p, signerName(p, in.Actor)
	return c.freezeUpdate(ctx, freezes.UpdateCreate, in, in.Actor, true)
}

// LiftFreeze ends a freeze now; held releases continue at once. A closed
// Freezes workflow is restarted with its state first, as for CreateFreeze.
// It is signed like CreateFreeze (FreezeLiftClaim).
func (c *Client) LiftFreeze(ctx context.Context, in freezes.LiftInput) (freezes.Freeze, error) {
	p, err := c.sign(ctx, workflows.FreezeLiftClaim(in), in.Actor)
	if err != nil {
		return freezes.Freeze{}, err
	}
	in.Proof, in.Actor = p, signerName(p, in.Actor)
	f, err := c.freezeUpdate(ctx, freezes.UpdateLift, in, in.Actor, false)
	if errors.Is(err, errNoFreezes) {
		return f, fmt.Errorf("no freeze %q: no freeze was ever created in namespace %s", in.ID, c.Namespace)
	}
	return f, err
}

// freezeUpdate sends a freeze Update to the running Freezes workflow, or
// starts one (only when start is set or a closed run is restored) and
// sends it with the start. A run that closes between the look and the
// Update is looked at again.
func (c *Client) freezeUpdate(ctx context.Context, name string, arg any, actor string, start bool) (freezes.Freeze, error) {
	for attempt := range freezeAttempts {
		if attempt > 0 {
			if err := pause(ctx, freezeRetryPause); err != nil {
				return freezes.Freeze{}, err
			}
		}
		b, err := c.DescribeFreezes(ctx)
		if err != nil {
			return freezes.Freeze{}, err
		}
		var h client.WorkflowUpdateHandle
		switch {
		case b.Running:
			h, err = c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: freezes.WorkflowID, RunID: b.RunID, UpdateName: name, Args: []any{arg},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				continue // the run closed meanwhile
			}
		case !b.Exists && !start:
			return freezes.Freeze{}, errNoFreezes
		default:
			in := workflows.FreezesInput{}
			if b.Exists {
				if in, err = c.readFreezes(ctx, b, actor); err != nil {
					return freezes.Freeze{}, err
				}
			}
			h, err = c.startFreezesWith(ctx, in, name, arg)
		}
		f, err := freezeResult(ctx, h, err)
		if errors.Is(err, errFreezesUpgrading) {
			continue // the run continues as new with signed freezes
		}
		return f, err
	}
	return freezes.Freeze{}, fmt.Errorf("the Freezes workflow %s kept closing while this command ran; run it again", freezes.WorkflowID)
}

// A freeze request is sent at most freezeAttempts times, freezeRetryPause
// apart: to a run that closed meanwhile, or that is moving to signed
// freezes (it refuses, then continues as new at once).
const (
	freezeAttempts   = 5
	freezeRetryPause = 250 * time.Millisecond
)

// errFreezesUpgrading is a refusal by a run from before signed freezes
// that is about to continue as new: the request is sent again.
var errFreezesUpgrading = errors.New("the Freezes workflow is moving to signed freezes")

// pause waits d, or less when ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// startFreezesWith starts the Freezes workflow from in with the Update, or
// sends the Update to a run someone else started meanwhile.
func (c *Client) startFreezesWith(ctx context.Context, in workflows.FreezesInput, name string, arg any) (client.WorkflowUpdateHandle, error) {
	start := c.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       freezes.WorkflowID,
		TaskQueue:                freezes.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            freezesSummary,
	}, workflows.Freezes, in)
	return c.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
}

// freezeResult waits for a freeze Update's result; a refusal reads as the
// validator's sentence.
func freezeResult(ctx context.Context, h client.WorkflowUpdateHandle, err error) (freezes.Freeze, error) {
	var f freezes.Freeze
	if err == nil {
		err = h.Get(ctx, &f)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeFreezesUpgrading {
		return freezes.Freeze{}, errFreezesUpgrading
	}
	if err != nil {
		return freezes.Freeze{}, refused("freeze", err)
	}
	return f, nil
}

// Freezes lists every freeze the Freezes workflow keeps; a closed run
// answers too (see DescribeFreezes).
func (c *Client) Freezes(ctx context.Context) ([]freezes.Freeze, error) {
	return freezes.List(ctx, c.Temporal)
}
