package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/buildinfo"
	"github.com/runbookhq/runbook/workflows"
)

// The variables that put a worker under Worker Versioning.
const (
	// EnvDeploymentName names the Worker Deployment the worker belongs to;
	// unset, the worker is unversioned (every build serves every task).
	EnvDeploymentName = "RUNBOOK_DEPLOYMENT_NAME"
	// EnvBuildID overrides the build ID (default: the binary's version).
	EnvBuildID = "RUNBOOK_BUILD_ID"
)

// bootstrapWait bounds how long a worker tries to make itself the first
// current version of its deployment; a variable for tests.
var bootstrapWait = 30 * time.Second

// WorkerBuildID is the build ID the worker reports: RUNBOOK_BUILD_ID, else
// the binary's (buildinfo.BuildID). It is never empty.
func (c Config) WorkerBuildID() string {
	if c.BuildID != "" {
		return c.BuildID
	}
	return buildinfo.BuildID()
}

// Versioned reports whether the worker runs under Worker Versioning.
func (c Config) Versioned() bool { return c.DeploymentName != "" }

// workerOptions are the options of every worker Run starts: versioned by
// deployment name and build ID when a deployment is named. The workflows
// bring their own behavior (workflows.Registrations), and none is
// defaulted, so a workflow registered without one fails the start.
func workerOptions(cfg Config) worker.Options {
	opts := worker.Options{Interceptors: cfg.Interceptors}
	if cfg.Versioned() {
		opts.DeploymentOptions = worker.DeploymentOptions{
			UseVersioning: true,
			Version:       worker.WorkerDeploymentVersion{DeploymentName: cfg.DeploymentName, BuildID: cfg.WorkerBuildID()},
		}
	}
	return opts
}

// bootstrapDeployment makes this worker's build the current version of its
// deployment when no version ever was: a versioned task queue with no
// current version sends its tasks to unversioned workers only, so the
// first build of a new deployment would otherwise serve nothing until
// someone ran set-current-version. Once any version has been made current
// (or unversioned set current again, as a rollback), rollouts are the
// operator's: a new build waits to be ramped or set current.
func bootstrapDeployment(ctx context.Context, c client.Client, cfg Config) {
	if !cfg.Versioned() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, bootstrapWait)
	defer cancel()
	build := cfg.WorkerBuildID()
	h := c.WorkerDeploymentClient().GetHandle(cfg.DeploymentName)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := bootstrapOnce(ctx, h, build)
		if done {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			slog.Warn("worker deployment: could not check or set its current version; set it by hand (README: Upgrading workers)",
				"deployment", cfg.DeploymentName, "build_id", build, "error", last)
			return
		case <-tick.C:
		}
	}
}

// bootstrapOnce looks at the deployment once; done is false while the
// server does not know this version yet (it learns it from the first poll).
func bootstrapOnce(ctx context.Context, h client.WorkerDeploymentHandle, build string) (done bool, err error) {
	d, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return false, err
	}
	rc := d.Info.RoutingConfig
	if rc.CurrentVersion != nil || !rc.CurrentVersionChangedTime.IsZero() {
		current := "unversioned"
		if rc.CurrentVersion != nil {
			current = rc.CurrentVersion.BuildID
		}
		if current != build {
			slog.Info("worker deployment: this build serves new workflows once it is ramped or set current (README: Upgrading workers)",
				"deployment", d.Info.Name, "build_id", build, "current_build_id", current)
		}
		return true, nil
	}
	_, err = h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{
		BuildID: build, ConflictToken: d.ConflictToken, Identity: "runbook worker (first version of the deployment)",
	})
	if err != nil {
		// Not known yet, or another worker's bootstrap won the conflict
		// token: look again.
		return false, fmt.Errorf("set current version: %w", err)
	}
	slog.Info("worker deployment: no version was current; this build is now", "deployment", d.Info.Name, "build_id", build)
	return true, nil
}

// freezesBehavior is the versioning behavior of the Freezes workflow, which
// runs on its own task queue.
func freezesBehavior() workflow.VersioningBehavior {
	for _, r := range workflows.Registrations {
		if r.Name == freezes.WorkflowName {
			return r.Behavior
		}
	}
	return workflow.VersioningBehaviorUnspecified
}
