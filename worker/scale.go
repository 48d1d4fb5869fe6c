package worker

import (
	"fmt"
	"os"
	"strconv"

	"go.temporal.io/sdk/worker"
)

// Environment variables that size the worker for many releases in flight
// (README: "Scale").
const (
	// EnvWorkflowPollers is how many goroutines poll for workflow tasks:
	// a number (2 or more), or "auto" to let the server's feedback scale
	// them. Unset, the SDK's default (2).
	EnvWorkflowPollers = "RUNBOOK_WORKFLOW_POLLERS"
	// EnvActivityPollers is the same for activity tasks.
	EnvActivityPollers = "RUNBOOK_ACTIVITY_POLLERS"
)

// scaleOptions sets how the worker polls. The SDK's two pollers are the
// default: in the scale benchmark the server, not the worker, bounds the
// rate (tasks wait about a second in the queue with 2 pollers and with the
// 50 to 75 "auto" grows to, and the extra polls load the server), so more
// pollers help only where the cluster has room and one worker falls behind.
func scaleOptions(opts worker.Options) (worker.Options, error) {
	wf, err := pollerBehavior(EnvWorkflowPollers)
	if err != nil {
		return opts, err
	}
	act, err := pollerBehavior(EnvActivityPollers)
	if err != nil {
		return opts, err
	}
	opts.WorkflowTaskPollerBehavior, opts.ActivityTaskPollerBehavior = wf, act
	return opts, nil
}

// pollerBehavior reads one of the pollers' variables.
func pollerBehavior(name string) (worker.PollerBehavior, error) {
	v := os.Getenv(name)
	if v == "" {
		return nil, nil
	}
	if v == "auto" {
		return worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{}), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return nil, fmt.Errorf("%s=%q: want auto, or a number of pollers of 2 or more", name, v)
	}
	return worker.NewPollerBehaviorSimpleMaximum(worker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: n}), nil
}
