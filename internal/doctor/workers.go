package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// pollers is who polls the task queue, by task type.
type pollers struct {
	workflow, activity []*taskqueuepb.PollerInfo
}

// checkWorkers reports whether workers poll the task queue for both
// workflow and activity tasks: without them releases start and wait. With
// a Worker Deployment it also says which versions poll and which is
// current.
func checkWorkers(ctx context.Context, cfg Config, tc client.Client) Result {
	var p pollers
	for _, tt := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := tc.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: cfg.Namespace, TaskQueueType: tt,
			TaskQueue: &taskqueuepb.TaskQueue{Name: cfg.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		})
		if err != nil {
			return Result{Check: CheckWorkers, Status: Fail, Detail: fmt.Sprintf("describe task queue %s: %v", cfg.TaskQueue, err)}
		}
		if tt == enumspb.TASK_QUEUE_TYPE_WORKFLOW {
			p.workflow = resp.GetPollers()
		} else {
			p.activity = resp.GetPollers()
		}
	}
	r := judgePollers(cfg, p)
	if r.Status == Fail || cfg.DeploymentName == "" {
		return r
	}
	resp, err := tc.WorkflowService().DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{
		Namespace: cfg.Namespace, DeploymentName: cfg.DeploymentName,
	})
	if err != nil {
		return Result{Check: CheckWorkers, Status: Fail,
			Detail: fmt.Sprintf("%s; worker deployment %s: %v", r.Detail, cfg.DeploymentName, err),
			Fix:    "start the workers with RUNBOOK_DEPLOYMENT_NAME=" + cfg.DeploymentName + " (a deployment exists once a versioned worker polls), or unset it"}
	}
	rc := resp.GetWorkerDeploymentInfo().GetRoutingConfig()
	return judgeDeployment(cfg, r, p, rc.GetCurrentDeploymentVersion().GetBuildId(), rc.GetRampingDeploymentVersion().GetBuildId())
}

// judgePollers fails a queue that nothing polls for one of the task types.
func judgePollers(cfg Config, p pollers) Result {
	r := Result{Check: CheckWorkers}
	if len(p.workflow) == 0 || len(p.activity) == 0 {
		var none []string
		if len(p.workflow) == 0 {
			none = append(none, "workflow")
		}
		if len(p.activity) == 0 {
			none = append(none, "activity")
		}
		r.Status = Fail
		r.Detail = fmt.Sprintf("no worker polls task queue %s for %s tasks: releases would start and wait", cfg.TaskQueue, strings.Join(none, " or "))
		r.Fix = fmt.Sprintf("start a worker: TEMPORAL_ADDRESS=%s TEMPORAL_NAMESPACE=%s RUNBOOK_TASK_QUEUE=%s runbook worker   (compose: docker compose up -d worker)",
			cfg.Address, cfg.Namespace, cfg.TaskQueue)
		return r
	}
	r.Status = OK
	r.Detail = fmt.Sprintf("task queue %s: %d workflow and %d activity poller(s) (%s)", cfg.TaskQueue, len(p.workflow), len(p.activity), strings.Join(identities(p), ", "))
	return r
}

// identities are the distinct poller identities, sorted.
func identities(p pollers) []string {
	var ids []string
	for _, pi := range append(slices.Clone(p.workflow), p.activity...) {
		if !slices.Contains(ids, pi.GetIdentity()) {
			ids = append(ids, pi.GetIdentity())
		}
	}
	slices.Sort(ids)
	return ids
}

// pollingVersions are the build IDs of the deployment's pollers.
func pollingVersions(deployment string, p pollers) []string {
	var ids []string
	for _, pi := range append(slices.Clone(p.workflow), p.activity...) {
		o := pi.GetDeploymentOptions()
		if o.GetDeploymentName() == deployment && o.GetBuildId() != "" && !slices.Contains(ids, o.GetBuildId()) {
			ids = append(ids, o.GetBuildId())
		}
	}
	slices.Sort(ids)
	return ids
}

// judgeDeployment adds the deployment's versions to r: new releases go to
// the current version, so it must exist and be polled.
func judgeDeployment(cfg Config, r Result, p pollers, current, ramping string) Result {
	polling := pollingVersions(cfg.DeploymentName, p)
	r.Detail += fmt.Sprintf("; deployment %s: versions polling [%s], current %s", cfg.DeploymentName, strings.Join(polling, ", "), orNone(current))
	if ramping != "" {
		r.Detail += ", ramping " + ramping
	}
	setCurrent := func(id string) string {
		return fmt.Sprintf("temporal worker deployment set-current-version %s --deployment-name %s --build-id %s --yes", cfg.temporalFlags(), cfg.DeploymentName, id)
	}
	switch {
	case len(polling) == 0:
		r.Status = Fail
		r.Detail += ": no poller of the task queue belongs to the deployment"
		r.Fix = "start the workers with RUNBOOK_DEPLOYMENT_NAME=" + cfg.DeploymentName
	case current == "":
		r.Status = Warn
		r.Detail += ": no current version, so new releases go to unversioned workers"
		r.Fix = setCurrent(polling[len(polling)-1])
	case !slices.Contains(polling, current):
		r.Status = Fail
		r.Detail += ": the current version has no poller, so new releases wait"
		r.Fix = setCurrent(polling[len(polling)-1]) + "   (or start workers of build " + current + ")"
	}
	return r
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
