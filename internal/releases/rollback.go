package releases

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/workflows"
)

// A rollback puts the last version that succeeded in an environment (or a
// named one) back, as a release of its own through the runbook that
// deployed that version: read from that release's own input in Temporal,
// so it needs no file and cannot drift from what ran.

// RollbackOptions is what `runbook rollback` asks for.
type RollbackOptions struct {
	Service, Environment string
	// To is the version to put back; empty means the last one that
	// succeeded in the environment before the live one.
	To        string
	Reason    string
	Requester string
	// Full provisions the version again even when it still runs in the
	// other slot.
	Full bool
	// RunbookFile names where the runbook came from, for messages.
	RunbookFile string
}

// RollbackPlan is a rollback worked out but not started: what goes back,
// from what, by which path and why that path.
type RollbackPlan struct {
	Current workflows.ReleaseStatus `json:"current"`
	Target  workflows.ReleaseStatus `json:"target"`
	Path    string                  `json:"path"`
	Why     string                  `json:"why"`
	Input   workflows.ReleaseInput  `json:"-"`
}

// historyDepth is how many of an environment's latest runs a rollback
// looks through for the version to put back.
const historyDepth = 50

// PlanRollback finds what is live in the environment and the version to put
// back, and builds the rollback release from that version's own input.
func (c *Client) PlanRollback(ctx context.Context, o RollbackOptions) (RollbackPlan, error) {
	if strings.TrimSpace(o.Reason) == "" {
		return RollbackPlan{}, errors.New("a rollback needs --reason: say why (it goes to the approvers, Slack and the audit log)")
	}
	runs, err := c.environmentRuns(ctx, o.Service, o.Environment)
	if err != nil {
		return RollbackPlan{}, err
	}
	cur, prev, between, err := pickRollback(runs, o.Environment, o.To)
	if err != nil {
		return RollbackPlan{}, fmt.Errorf("%s in %s: %w", o.Service, o.Environment, &NothingToRollBackError{err})
	}
	return c.planFrom(ctx, o, cur, prev, between)
}

// NothingToRollBackError says there is no version to put back (nothing
// succeeded there before, or the live version is still running): a fact
// about the environment, not a failure to read it.
type NothingToRollBackError struct{ Err error }

func (e *NothingToRollBackError) Error() string { return e.Err.Error() }
func (e *NothingToRollBackError) Unwrap() error { return e.Err }

// planFrom builds the rollback of cur to prev from prev's own input.
func (c *Client) planFrom(ctx context.Context, o RollbackOptions, cur, prev workflows.ReleaseStatus, between []workflows.ReleaseStatus) (RollbackPlan, error) {
	src, err := c.releaseInput(ctx, prev.ReleaseID)
	if err != nil {
		return RollbackPlan{}, err
	}
	path, why := rollbackPath(cur, prev, between, o.Environment, o.Full)
	rb, err := RollbackRunbook(src.Runbook, o.Environment, path, cur.Version, prev.Version, o.Reason)
	if err != nil {
		return RollbackPlan{}, err
	}
	in := workflows.ReleaseInput{
		Runbook: rb, Version: prev.Version, Digest: src.Digest, Build: src.Build,
		Requester: o.Requester, RunbookFile: src.RunbookFile,
		Rollback: &workflows.RollbackRequest{Of: cur.ReleaseID, FromVersion: cur.Version, Reason: o.Reason, Path: path},
	}
	return RollbackPlan{Current: cur, Target: prev, Path: path, Why: why, Input: in}, nil
}

// StartRollback starts the planned rollback as rollback/<service>/<env>/<n>,
// the next n free.
func (c *Client) StartRollback(ctx context.Context, p RollbackPlan) (client.WorkflowRun, error) {
	svc, env := p.Input.Runbook.Service, p.Input.Runbook.Environments[0].Name
	n, err := c.countRollbacks(ctx, svc, env)
	if err != nil {
		return nil, err
	}
	for range 5 {
		n++
		run, err := c.deployAs(ctx, workflows.RollbackID(svc, env, n), p.Input)
		if err == nil || !strings.Contains(err.Error(), "already released or is running") {
			return run, err
		}
	}
	return nil, fmt.Errorf("no free rollback ID for %s in %s after %d", svc, env, n)
}

// environmentRuns are the release statuses of the environment's latest
// runs, newest first.
func (c *Client) environmentRuns(ctx context.Context, service, env string) ([]workflows.ReleaseStatus, error) {
	items, err := c.List(ctx, ListFilter{Service: service, Environment: env, Limit: historyDepth})
	if err != nil {
		return nil, err
	}
	out := make([]workflows.ReleaseStatus, 0, len(items))
	for _, it := range items {
		st, err := c.Status(ctx, it.ReleaseID)
		if err != nil {
			return nil, fmt.Errorf("status of %s: %w", it.ReleaseID, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// envOf is release st's run in env.
func envOf(st workflows.ReleaseStatus, env string) (workflows.EnvironmentStatus, bool) {
	for _, e := range st.Environments {
		if e.Name == env {
			return e, true
		}
	}
	return workflows.EnvironmentStatus{}, false
}

// pickRollback finds, in runs (newest first), the live release (the last
// that succeeded in env), the one to put back (version to, or the last
// before it with another version) and the runs in between.
func pickRollback(runs []workflows.ReleaseStatus, env, to string) (cur, prev workflows.ReleaseStatus, between []workflows.ReleaseStatus, err error) {
	ci := -1
	for i, st := range runs {
		e, ok := envOf(st, env)
		switch {
		case !ok:
		case !isFinalState(e.State):
			return cur, prev, nil, fmt.Errorf("%s is still running there; wait for it or abort it (runbook abort %s) first", st.ReleaseID, st.ReleaseID)
		case e.State == workflows.StateSucceeded && ci < 0:
			ci = i
		}
		if ci >= 0 {
			break
		}
	}
	if ci < 0 {
		return cur, prev, nil, errors.New("no release has succeeded there, so there is nothing to roll back")
	}
	cur = runs[ci]
	if to == cur.Version {
		return cur, prev, nil, fmt.Errorf("%s is the live version (%s); name an earlier one with --to", to, cur.ReleaseID)
	}
	for j := ci + 1; j < len(runs); j++ {
		e, ok := envOf(runs[j], env)
		if ok && e.State == workflows.StateSucceeded && runs[j].Version != cur.Version && (to == "" || runs[j].Version == to) {
			return cur, runs[j], runs[:j], nil
		}
	}
	if to != "" {
		return cur, prev, nil, fmt.Errorf("version %s never succeeded there in the last %d runs; roll back to one that did", to, historyDepth)
	}
	return cur, prev, nil, fmt.Errorf("no earlier version succeeded there before %s; there is nothing to put back", cur.Version)
}

// rollbackPath says whether the version to put back still runs in the slot
// it was installed in, the one the live release moved traffic away from:
// then only traffic moves back. Any run since that targeted the same slot
// may have changed it, so then (and with full, or without slots) the
// version is provisioned again.
func rollbackPath(cur, prev workflows.ReleaseStatus, newer []workflows.ReleaseStatus, env string, full bool) (string, string) {
	pe, _ := envOf(prev, env)
	ce, _ := envOf(cur, env)
	switch {
	case full:
		return workflows.RollbackFull, "--full asked for a new provisioning"
	case pe.Traffic == nil || ce.Traffic == nil || pe.Traffic.Target == "":
		return workflows.RollbackFull, "the environment has no traffic slots to switch between"
	case pe.Traffic.Target == ce.Traffic.Target:
		return workflows.RollbackFull, fmt.Sprintf("%s now runs in slot %s, where %s was", cur.Version, ce.Traffic.Target, prev.Version)
	}
	for _, st := range newer {
		if st.ReleaseID == cur.ReleaseID {
			continue
		}
		if e, ok := envOf(st, env); ok && e.Traffic != nil && e.Traffic.Target == pe.Traffic.Target {
			return workflows.RollbackFull, fmt.Sprintf("%s used slot %s since %s was installed there", st.ReleaseID, pe.Traffic.Target, prev.Version)
		}
	}
	return workflows.RollbackTraffic, fmt.Sprintf("%s still runs in slot %s: traffic moves back to it", prev.Version, pe.Traffic.Target)
}

// releaseInput reads the input release id started with, from its history.
func (c *Client) releaseInput(ctx context.Context, id string) (workflows.ReleaseInput, error) {
	var in workflows.ReleaseInput
	it := c.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return in, fmt.Errorf("%s has no history to read its runbook from", id)
	}
	ev, err := it.Next()
	if err != nil {
		return in, fmt.Errorf("history of %s: %w", id, err)
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil || len(attrs.GetInput().GetPayloads()) == 0 {
		return in, fmt.Errorf("%s: its first event holds no input", id)
	}
	if err := c.dataConverter().FromPayloads(attrs.GetInput(), &in); err != nil {
		return in, fmt.Errorf("input of %s: %w", id, err)
	}
	return in, nil
}

// countRollbacks counts the rollback releases of service in env so far.
func (c *Client) countRollbacks(ctx context.Context, service, env string) (int, error) {
	prefix := strings.TrimSuffix(workflows.RollbackID(service, env, 0), "0")
	resp, err := c.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: c.Namespace,
		Query:     fmt.Sprintf("WorkflowType = '%s' AND WorkflowId STARTS_WITH '%s'", workflows.ReleaseWorkflowName, prefix),
	})
	var unsupported *serviceerror.InvalidArgument
	if errors.As(err, &unsupported) {
		return 0, nil // StartRollback steps past the IDs taken
	}
	if err != nil {
		return 0, fmt.Errorf("count rollbacks of %s in %s: %w", service, env, err)
	}
	return int(resp.GetCount()), nil
}
