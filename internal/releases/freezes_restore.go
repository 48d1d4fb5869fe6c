package releases

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/workflows"
)

// freezesReadTimeout bounds reading a closed run's state: a worker must
// replay its history, and a command should say so rather than hang.
const freezesReadTimeout = 30 * time.Second

// FreezeBoard is the latest run of the namespace's Freezes workflow.
type FreezeBoard struct {
	// Exists is false when no freeze was ever created (or the last run
	// was removed after the namespace's retention period).
	Exists  bool   `json:"exists"`
	Running bool   `json:"running"`
	RunID   string `json:"run-id,omitempty"`
	// Status says how a closed run ended ("cancelled", "terminated"...).
	Status   string    `json:"status,omitempty"`
	ClosedAt time.Time `json:"closed-at,omitempty"`
}

// Closed describes a closed run for people: "terminated at ..., run ...".
func (b FreezeBoard) Closed() string {
	return fmt.Sprintf("%s at %s, run %s", b.Status, b.ClosedAt.UTC().Format(time.RFC3339), b.RunID)
}

// DescribeFreezes looks at the latest run of the Freezes workflow.
func (c *Client) DescribeFreezes(ctx context.Context) (FreezeBoard, error) {
	d, err := c.Temporal.DescribeWorkflow(ctx, freezes.WorkflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return FreezeBoard{}, nil
	}
	if err != nil {
		return FreezeBoard{}, fmt.Errorf("look at the Freezes workflow %s: %w", freezes.WorkflowID, err)
	}
	info := d.RawResponse.GetWorkflowExecutionInfo()
	st := info.GetStatus()
	return FreezeBoard{
		Exists:   true,
		Running:  st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		RunID:    info.GetExecution().GetRunId(),
		Status:   freezes.RunStatus(st),
		ClosedAt: info.GetCloseTime().AsTime(),
	}, nil
}

// readFreezes reads a closed run's state back (a query, answered by a
// worker replaying the run) as the input of the run that replaces it.
func (c *Client) readFreezes(ctx context.Context, b FreezeBoard, actor string) (workflows.FreezesInput, error) {
	ctx, cancel := context.WithTimeout(ctx, freezesReadTimeout)
	defer cancel()
	var in workflows.FreezesInput
	v, err := c.Temporal.QueryWorkflow(ctx, freezes.WorkflowID, b.RunID, freezes.QueryState)
	var qf *serviceerror.QueryFailed
	if errors.As(err, &qf) && strings.Contains(qf.Message, "unknown queryType") {
		// A worker older than the state query: the list is the state
		// that matters; the numbering is rebuilt below.
		if v, err = c.Temporal.QueryWorkflow(ctx, freezes.WorkflowID, b.RunID, freezes.QueryList); err == nil {
			err = v.Get(&in.Freezes)
		}
	} else if err == nil {
		err = v.Get(&in)
	}
	if err != nil {
		return in, fmt.Errorf("the Freezes workflow %s ended (%s) and its freezes could not be read back: %w\n"+
			"Nothing was started, so none of its freezes is lost. Reading a closed run needs a runbook worker "+
			"of namespace %s (every worker polls task queue %s) that can replay it: start one and run this "+
			"command again. If its history can no longer be replayed, `runbook freeze restore --empty --reason ...` "+
			"starts without its freezes; re-create them from the freeze.created entries of `runbook audit show`",
			freezes.WorkflowID, b.Closed(), err, c.Namespace, freezes.TaskQueue)
	}
	in.Next = max(in.Next, highestNumbered(in.Freezes))
	in.Restored = &freezes.Restored{RunID: b.RunID, Status: b.Status, ClosedAt: b.ClosedAt, Actor: actor}
	return in, nil
}

// highestNumbered is the largest N of the freezes named freeze-N, so a
// worker that still numbers freezes never reuses one.
func highestNumbered(fs []freezes.Freeze) int {
	n := 0
	for _, f := range fs {
		if i, err := strconv.Atoi(strings.TrimPrefix(f.ID, "freeze-")); err == nil {
			n = max(n, i)
		}
	}
	return n
}

// RestoreInput asks to start the Freezes workflow again after its run
// closed.
type RestoreInput struct {
	Actor, Reason string
	// Empty starts without the closed run's freezes, only when they cannot
	// be read back.
	Empty bool
}

// RestoreResult says what RestoreFreezes did.
type RestoreResult struct {
	// From is the closed run; RunID the run now keeping the freezes.
	From           FreezeBoard `json:"from"`
	RunID          string      `json:"run-id"`
	Freezes        int         `json:"freezes"`
	Active         int         `json:"active"`
	AlreadyRunning bool        `json:"already-running,omitempty"`
}

// RestoreFreezes starts the Freezes workflow again with the state of its
// closed run, or empty (in.Empty) when that state cannot be read back.
// A running workflow is left alone.
func (c *Client) RestoreFreezes(ctx context.Context, in RestoreInput) (RestoreResult, error) {
	b, err := c.DescribeFreezes(ctx)
	switch {
	case err != nil:
		return RestoreResult{}, err
	case !b.Exists:
		return RestoreResult{}, fmt.Errorf("no Freezes workflow in namespace %s, nothing to restore: the first `runbook freeze create` starts one", c.Namespace)
	case b.Running && in.Empty:
		return RestoreResult{}, fmt.Errorf("the Freezes workflow is running (run %s): --empty only replaces a closed run whose freezes cannot be read back", b.RunID)
	case b.Running:
		return RestoreResult{From: b, RunID: b.RunID, AlreadyRunning: true}, nil
	}
	st, err := c.readFreezes(ctx, b, in.Actor)
	switch {
	case err == nil && in.Empty:
		return RestoreResult{}, fmt.Errorf("the freezes of the Freezes workflow's last run (%s) read back (%d): restore without --empty keeps them; "+
			"lift the ones that should end with runbook freeze lift", b.Closed(), len(st.Freezes))
	case err != nil && !in.Empty:
		return RestoreResult{}, err
	case err != nil && strings.TrimSpace(in.Reason) == "":
		return RestoreResult{}, errors.New("starting without the closed run's freezes needs --reason, recorded in the audit log")
	case err != nil:
		st = workflows.FreezesInput{Restored: &freezes.Restored{RunID: b.RunID, Status: b.Status, ClosedAt: b.ClosedAt,
			Actor: in.Actor, Reason: in.Reason, Empty: true}}
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: freezes.WorkflowID, TaskQueue: freezes.TaskQueue, StaticSummary: freezesSummary,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflows.Freezes, st)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return RestoreResult{From: b, RunID: started.RunId, AlreadyRunning: true}, nil
	}
	if err != nil {
		return RestoreResult{}, fmt.Errorf("start the Freezes workflow: %w", err)
	}
	res := RestoreResult{From: b, RunID: run.GetRunID(), Freezes: len(st.Freezes)}
	now := time.Now()
	for _, f := range st.Freezes {
		if !f.Ended(now) {
			res.Active++
		}
	}
	return res, nil
}
