package releases

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// WorkspaceFor is the infra workspace of one environment of a runbook, with
// its module path resolved like a release resolves it.
func WorkspaceFor(path string, rb *runbooks.Runbook, env string) (terraform.Workspace, error) {
	envs, err := resolveModules(rb.Environments, filepath.Dir(path))
	if err != nil {
		return terraform.Workspace{}, err
	}
	for _, e := range envs {
		if e.Name != env {
			continue
		}
		if e.Infra == nil {
			return terraform.Workspace{}, fmt.Errorf("environment %s of %s has no infra section", env, rb.Service)
		}
		if e.Traffic != nil {
			return terraform.Workspace{}, fmt.Errorf("environment %s of %s has traffic slots, each with its own OpenTofu state; use SlotWorkspaces for them", env, rb.Service)
		}
		return terraform.Workspace{Service: rb.Service, Environment: env, Module: e.Infra.Module, Vars: e.Infra.Vars}, nil
	}
	return terraform.Workspace{}, fmt.Errorf("%s has no environment %q", rb.Service, env)
}

// SlotWorkspaces are the OpenTofu workspaces of an environment with traffic
// slots, one per slot, with the slot's variables filled in (the rest stay
// as written: enough to destroy what a slot holds).
func SlotWorkspaces(path string, rb *runbooks.Runbook, env string) ([]terraform.Workspace, error) {
	envs, err := resolveModules(rb.Environments, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	for _, e := range envs {
		if e.Name != env || e.Infra == nil || e.Traffic == nil {
			continue
		}
		var out []terraform.Workspace
		for _, slot := range slices.Sorted(maps.Keys(e.Traffic.Slots)) {
			vars := map[string]string{runbooks.VarSlot: slot, runbooks.VarService: rb.Service, runbooks.VarEnvironment: env}
			for k, v := range e.Traffic.Slots[slot] {
				vars[runbooks.VarSlotPrefix+k] = v
			}
			ws := terraform.Workspace{Service: rb.Service, Environment: env, Slot: slot, Module: e.Infra.Module, Vars: map[string]string{}}
			for k, v := range e.Infra.Vars {
				ws.Vars[k] = runbooks.Expand(v, vars)
			}
			out = append(out, ws)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s has no environment %q with infra and traffic slots", rb.Service, env)
}

// DriftInputFor builds the drift check of one environment of a runbook:
// its workspace, or with traffic slots the workspace of each slot.
func DriftInputFor(path string, rb *runbooks.Runbook, env, requester string) (workflows.DriftInput, error) {
	in := workflows.DriftInput{Service: rb.Service, Environment: env, Requester: requester}
	if i := slices.IndexFunc(rb.Environments, func(e runbooks.Environment) bool { return e.Name == env }); i >= 0 &&
		rb.Environments[i].Traffic != nil && rb.Environments[i].Infra != nil {
		slots, err := SlotWorkspaces(path, rb, env)
		in.Slots = slots
		return in, err
	}
	ws, err := WorkspaceFor(path, rb, env)
	in.Workspace = ws
	return in, err
}

// CheckDrift runs one drift check now and waits for its result.
func (c *Client) CheckDrift(ctx context.Context, in workflows.DriftInput) (workflows.DriftResult, error) {
	id := fmt.Sprintf("%s/check-%d", workflows.DriftID(in.Service, in.Environment), time.Now().UnixNano())
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: c.TaskQueue,
		StaticSummary:         fmt.Sprintf("drift check of %s %s by %s", in.Service, in.Environment, in.Requester),
		TypedSearchAttributes: workflows.DriftAttrs(in.Service, in.Environment),
	}, workflows.DriftWorkflowName, in)
	if err != nil {
		return workflows.DriftResult{}, fmt.Errorf("start drift check: %w", err)
	}
	var res workflows.DriftResult
	if err := run.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("drift check %s: %s", id, rootCause(err))
	}
	return res, nil
}

// EnableDrift creates (or updates) the schedule that checks an environment
// for drift every interval.
func (c *Client) EnableDrift(ctx context.Context, in workflows.DriftInput, every time.Duration) error {
	if every < time.Minute {
		return fmt.Errorf("--every %s is too often; drift checks run a full plan, use 1m or more", every)
	}
	id := workflows.DriftID(in.Service, in.Environment)
	in.Requester = "schedule " + id
	action := &client.ScheduleWorkflowAction{
		ID: id, Workflow: workflows.DriftWorkflowName, Args: []any{in}, TaskQueue: c.TaskQueue,
		TypedSearchAttributes: workflows.DriftAttrs(in.Service, in.Environment),
	}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	_, err := c.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: spec, Action: action,
		// A slow plan must not pile up checks behind it.
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		if err != nil {
			return fmt.Errorf("create drift schedule %s: %w", id, err)
		}
		return nil
	}
	h := c.Temporal.ScheduleClient().GetHandle(ctx, id)
	return h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := u.Description.Schedule
		s.Spec, s.Action = &spec, action
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
}

// DisableDrift deletes an environment's drift schedule.
func (c *Client) DisableDrift(ctx context.Context, service, env string) error {
	id := workflows.DriftID(service, env)
	err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("no drift schedule %s: enable one with `runbook drift enable`", id)
	}
	return err
}

// DriftSchedule describes an environment's drift schedule and its latest
// completed check.
type DriftSchedule struct {
	ID      string                 `json:"id"`
	Every   time.Duration          `json:"every"`
	Next    time.Time              `json:"next,omitzero"`
	Last    *workflows.DriftResult `json:"last,omitempty"`
	LastRun string                 `json:"last-run,omitempty"`
}

// DescribeDrift reads the schedule and the result of its latest run.
func (c *Client) DescribeDrift(ctx context.Context, service, env string) (DriftSchedule, error) {
	id := workflows.DriftID(service, env)
	d, err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return DriftSchedule{}, fmt.Errorf("drift schedule %s: %w", id, err)
	}
	out := DriftSchedule{ID: id}
	if spec := d.Schedule.Spec; spec != nil && len(spec.Intervals) > 0 {
		out.Every = spec.Intervals[0].Every
	}
	if next := d.Info.NextActionTimes; len(next) > 0 {
		out.Next = next[0]
	}
	for i := len(d.Info.RecentActions) - 1; i >= 0 && out.Last == nil; i-- {
		run := d.Info.RecentActions[i].StartWorkflowResult
		if run == nil || !c.completed(ctx, run.WorkflowID, run.FirstExecutionRunID) {
			continue // still running: Get would block until it ends
		}
		var res workflows.DriftResult
		if c.Temporal.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &res) == nil {
			out.Last, out.LastRun = &res, run.WorkflowID
		}
	}
	return out, nil
}

// completed reports whether a workflow run has completed successfully.
func (c *Client) completed(ctx context.Context, id, runID string) bool {
	d, err := c.Temporal.DescribeWorkflow(ctx, id, runID)
	return err == nil && d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
}

// rootCause is the innermost message of an error chain.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
