package releases

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// FlagOff turns one flag off at once through the FlagOff workflow (the
// kill switch), signed as the caller, and waits for what the provider
// shows afterwards.
func (c *Client) FlagOff(ctx context.Context, in workflows.FlagOffInput) (workflows.FlagOffResult, error) {
	var res workflows.FlagOffResult
	if strings.TrimSpace(in.Reason) == "" {
		return res, errors.New("turning a flag off needs --reason: say why (it goes to the audit log)")
	}
	id := workflows.FlagOffID(in.Service, in.Environment, in.Flag)
	p, err := c.sign(ctx, workflows.FlagOffClaim(id, in), in.Actor)
	if err != nil {
		return res, err
	}
	in.Proof = p
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: c.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("KILL SWITCH %s off in %s/%s by %s: %s", in.Flag, in.Service, in.Environment, in.Actor, in.Reason),
	}, workflows.FlagOffWorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return res, fmt.Errorf("%s is being turned off already; see `runbook status %s`", in.Flag, id)
	}
	if err != nil {
		return res, fmt.Errorf("start %s: %w", id, err)
	}
	if err := run.Get(ctx, &res); err != nil {
		return res, refused("flag off", err)
	}
	return res, nil
}

// FlagsOf is the flags section of service's environment env, from the
// runbook of the last release that ran there (read from its input in
// Temporal, as a rollback reads it).
func (c *Client) FlagsOf(ctx context.Context, service, env string) (*runbooks.Flags, error) {
	items, err := c.List(ctx, ListFilter{Service: service, Environment: env, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no release of %s ran in %s; name the runbook instead: runbook flag off RUNBOOK FLAG --env %s", service, env, env)
	}
	in, err := c.releaseInput(ctx, items[0].ReleaseID)
	if err != nil {
		return nil, err
	}
	for _, e := range in.Runbook.Environments {
		if e.Name == env && e.Flags != nil {
			return e.Flags, nil
		}
	}
	return nil, fmt.Errorf("the runbook of %s (%s) has no flags section in %s", service, items[0].ReleaseID, env)
}
