package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/internal/doctor"
	"github.com/runbookhq/runbook/internal/testenv"
)

// TestDoctorWorkerDeploymentE2E starts a versioned worker of a Worker
// Deployment on the dev server: runbook doctor says which build polls and
// that no version is current, its fix (the temporal CLI's
// set-current-version, run as printed) makes that build current, and the
// doctor then says so.
func TestDoctorWorkerDeploymentE2E(t *testing.T) {
	c := requireStack(t)
	temporalBin, err := findTemporal()
	if err != nil {
		t.Fatal(err)
	}
	n := serial.Add(1)
	queue, deployment := fmt.Sprintf("doctor-deploy-%d", n), fmt.Sprintf("doctor-dep-%d", n)
	w := worker.New(c, queue, worker.Options{Identity: "doctor-v1", DeploymentOptions: worker.DeploymentOptions{
		UseVersioning: true, Version: worker.WorkerDeploymentVersion{DeploymentName: deployment, BuildID: "v1"},
		DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	}})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "DoctorNoop"})
	w.RegisterActivity(func(context.Context) error { return nil })
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	env := append(cleanEnviron(), "TEMPORAL_ADDRESS="+stack.server.Address, "TEMPORAL_NAMESPACE="+namespace,
		"TEMPORAL_CONFIG_FILE="+filepath.Join(t.TempDir(), "no-temporal-config.toml"),
		"RUNBOOK_TASK_QUEUE="+queue, "RUNBOOK_DEPLOYMENT_NAME="+deployment)
	workers := func() doctor.Result {
		res := runCLIQuiet(env, "doctor", "--json")
		var list []doctor.Result
		if err := json.Unmarshal([]byte(res.stdout), &list); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, res)
		}
		for _, r := range list {
			if r.Check == doctor.CheckWorkers {
				return r
			}
		}
		t.Fatalf("no workers check:\n%s", res)
		return doctor.Result{}
	}

	// The server learns of the deployment from the worker's polls.
	var got doctor.Result
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_ = testenv.Poll(ctx, func(context.Context) (bool, error) {
		got = workers()
		return got.Status == doctor.Warn, nil
	})
	if got.Status != doctor.Warn || !strings.Contains(got.Detail, "versions polling [v1], current (none)") ||
		!strings.Contains(got.Fix, "--deployment-name "+deployment+" --build-id v1 --yes") {
		t.Fatalf("unversioned current: %+v, want a warning naming v1 and the set-current-version command", got)
	}

	fix := strings.Fields(got.Fix)
	if fix[0] != "temporal" {
		t.Fatalf("fix %q is not a temporal command", got.Fix)
	}
	out, err := exec.CommandContext(t.Context(), temporalBin, fix[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", got.Fix, err, out)
	}
	if got = workers(); got.Status != doctor.OK || !strings.Contains(got.Detail, "versions polling [v1], current v1") {
		t.Errorf("after the fix: %+v, want OK with v1 current", got)
	}
}
