package releases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// DeployTrain starts a Train workflow (train/<train>/<name>). With a
// signer, it signs every release the train will start (one per service and
// environment) as the requester now; without one it refuses a train that
// reaches an environment needing signed decisions, before anything runs.
func (c *Client) DeployTrain(ctx context.Context, in workflows.TrainInput) (client.WorkflowRun, error) {
	id := workflows.TrainID(in.Train, in.Name)
	if in.UIURL == "" {
		in.UIURL = c.UIURL
	}
	if err := c.signTrain(ctx, id, &in); err != nil {
		return nil, err
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: c.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("TRAIN %s %s by %s: %s into %s", in.Train, in.Name, in.Requester, trainServices(in), strings.Join(in.Environments, " → ")),
		StaticDetails:            trainDetails(id, c.reportLink(id)),
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.AttrStatus.ValueSet(workflows.StateRunning)),
	}, workflows.TrainWorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("%s already ran or is running; name this run of the train differently (--name)", id)
	}
	if err != nil {
		return nil, fmt.Errorf("start train %s: %w", id, err)
	}
	return run, nil
}

// trainDetails is what the Web UI shows under a train's summary: the
// commands that steer it and how to read its report.
func trainDetails(id, report string) string {
	s := "runbook train status " + id + "\n\nrunbook train approve " + id + " --as NAME\n\nrunbook train abort " + id + " --reason ...\n\n" +
		"report: `runbook report " + id + "`"
	if report != "" {
		s += " · [open the report](" + markdownURL(report) + ") (the link opens it for a week)"
	}
	return s
}

// trainServices lists "db 1.2.0, api 2.0.0".
func trainServices(in workflows.TrainInput) string {
	parts := make([]string, len(in.Services))
	for i, s := range in.Services {
		parts[i] = s.Name + " " + s.Release.Version
	}
	return strings.Join(parts, ", ")
}

// signTrain signs each cell's release ahead, or refuses signed
// environments without a signer.
func (c *Client) signTrain(ctx context.Context, id string, in *workflows.TrainInput) error {
	for i := range in.Services {
		s := &in.Services[i]
		for _, env := range in.Environments {
			e, ok := trainEnv(s.Release.Runbook, env)
			if !ok {
				continue
			}
			if c.Signer == nil {
				if s.Release.Runbook.Policy.IdentityMode(&e) == runbooks.IdentitySigned {
					return fmt.Errorf("%s in %s needs signed decisions (identity: signed, the default for production): set RUNBOOK_SIGNING_KEY "+
						"and RUNBOOK_SIGNER (or RUNBOOK_OIDC_TOKEN_COMMAND) so the train can start its releases as you, or set identity: unsigned", s.Name, env)
				}
				continue
			}
			cp, err := c.signCell(ctx, id, s, env, in.Requester)
			if err != nil {
				return err
			}
			s.Proofs = append(s.Proofs, cp)
			if signer := cp.Proof.Statement.Signer; signer != "" {
				in.Requester, s.Release.Requester = signer, signer
			}
		}
	}
	return nil
}

// trainEnv is rb's environment env, if it has one.
func trainEnv(rb runbooks.Runbook, env string) (runbooks.Environment, bool) {
	for _, e := range rb.Environments {
		if e.Name == env {
			return e, true
		}
	}
	return runbooks.Environment{}, false
}

// TrainStatus queries a train's status.
func (c *Client) TrainStatus(ctx context.Context, id string) (workflows.TrainStatus, error) {
	var st workflows.TrainStatus
	v, err := c.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return st, fmt.Errorf("no train %s: see `runbook list`, or start it with runbook train deploy", id)
		}
		return st, fmt.Errorf("query train %s: %w", id, err)
	}
	return st, v.Get(&st)
}

// TrainDecide approves or rejects the train gate waiting now.
func (c *Client) TrainDecide(ctx context.Context, id string, approve bool, in workflows.DecisionInput) (workflows.DecisionResult, error) {
	var res workflows.DecisionResult
	runID, err := c.trainRun(ctx, id)
	if err != nil {
		return res, err
	}
	name := workflows.UpdateReject
	if approve {
		name = workflows.UpdateApprove
	}
	if in.Gate == "" {
		st, err := c.TrainStatus(ctx, id)
		if err != nil {
			return res, err
		}
		in.Gate = waitingTrainGate(st)
	}
	if in.Proof, err = c.sign(ctx, workflows.DecisionClaim(id, runID, approve, in), in.Actor); err != nil {
		return res, err
	}
	return res, c.update(ctx, workflows.EnvironmentStatus{Name: "train", WorkflowID: id, RunID: runID}, name, in, &res)
}

// waitingTrainGate names the train gate waiting now, so a signature
// covers the gate it decides.
func waitingTrainGate(st workflows.TrainStatus) string {
	for _, e := range st.Environments {
		for _, g := range e.Gates {
			if g.State == workflows.StateWaiting {
				return g.Name
			}
		}
	}
	return ""
}

// TrainAbort stops a running train.
func (c *Client) TrainAbort(ctx context.Context, id string, in workflows.ControlInput) (workflows.ControlResult, error) {
	var res workflows.ControlResult
	runID, err := c.trainRun(ctx, id)
	if err != nil {
		return res, err
	}
	if in.Proof, err = c.sign(ctx, workflows.ControlClaim(id, runID, workflows.UpdateAbort, in), in.Actor); err != nil {
		return res, err
	}
	return res, c.update(ctx, workflows.EnvironmentStatus{Name: "train", WorkflowID: id, RunID: runID}, workflows.UpdateAbort, in, &res)
}

// signCell signs service s's release into env and, when a version is live
// there now, its rollback to that version: the train puts it back only if
// it is still what was live before the train's release.
func (c *Client) signCell(ctx context.Context, id string, s *workflows.TrainService, env, as string) (workflows.CellProof, error) {
	cell := workflows.TrainCellID(id, s.Name, env)
	p, err := c.sign(ctx, workflows.DeployClaim(cell, s.Release.Version, s.Release.Digest, nil), as)
	if err != nil {
		return workflows.CellProof{}, err
	}
	cp := workflows.CellProof{Environment: env, Proof: p}
	live, ok, err := c.liveIn(ctx, s.Name, env)
	if err != nil || !ok {
		return cp, err
	}
	rp, err := c.sign(ctx, workflows.DeployClaim(workflows.TrainRollbackID(cell), live.Version, live.Digest, nil), as)
	if err != nil {
		return cp, err
	}
	cp.RollbackTo, cp.RollbackProof = live.Version, rp
	return cp, nil
}

// trainRun is the run ID of the train's latest run: decisions are signed
// for that run.
func (c *Client) trainRun(ctx context.Context, id string) (string, error) {
	desc, err := c.Temporal.DescribeWorkflow(ctx, id, "")
	if err != nil {
		return "", fmt.Errorf("train %s: %w", id, err)
	}
	return desc.WorkflowExecution.RunID, nil
}

// TrainItem is one train run in `runbook train list`.
type TrainItem struct {
	TrainID   string    `json:"train-id"`
	Status    string    `json:"status"`
	StartedAt time.Time `json:"started-at"`
}

// ListTrains returns the train runs, newest first; train filters by the
// train's name (train/<train>/…) when set.
func (c *Client) ListTrains(ctx context.Context, train string, limit int) ([]TrainItem, error) {
	q := fmt.Sprintf("WorkflowType = '%s'", workflows.TrainWorkflowName)
	if train != "" {
		if !safeValue.MatchString(train) {
			return nil, fmt.Errorf("train name %q may only contain letters, digits and . _ + -", train)
		}
		q += fmt.Sprintf(" AND WorkflowId STARTS_WITH '%s'", workflows.TrainID(train, ""))
	}
	if limit <= 0 {
		limit = 50
	}
	resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: c.Namespace, Query: q, PageSize: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("list trains (%s): %w", q, err)
	}
	var out []TrainItem
	for _, e := range resp.GetExecutions() {
		out = append(out, TrainItem{TrainID: e.GetExecution().GetWorkflowId(), StartedAt: e.GetStartTime().AsTime(),
			Status: keyword(e.GetSearchAttributes().GetIndexedFields()["RunbookStatus"])})
	}
	return out, nil
}
