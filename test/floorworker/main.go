// Command floorworker is the floor of the scale benchmark (test/bench_scale_test.go):
// a plain Temporal Go SDK worker, in a process of its own so its RSS is measured
// as the runbook worker's is, running workflows of a release's shape and nothing
// more: a parent, one child, one activity, then a wait until an Update arrives.
// What runbook costs beyond that is runbook's own.
//
// It reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and FLOOR_TASK_QUEUE, and runs
// until SIGTERM or SIGINT.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names the benchmark starts and updates the workflows by.
const (
	parentName   = "FloorRelease"
	childName    = "FloorEnvironment"
	activityName = "FloorStep"
	updateName   = "approve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floorworker:", err)
		os.Exit(1)
	}
}

func run() error {
	queue := os.Getenv("FLOOR_TASK_QUEUE")
	if queue == "" {
		return fmt.Errorf("set FLOOR_TASK_QUEUE")
	}
	var opts client.ConnectionOptions
	// The same gRPC compression as the runbook worker beside it (none for
	// a loopback server unless RUNBOOK_TEMPORAL_COMPRESSION=gzip), so the
	// two sides differ only by what runbook does.
	if uncompressed(os.Getenv("RUNBOOK_TEMPORAL_COMPRESSION"), os.Getenv("TEMPORAL_ADDRESS")) {
		opts.GrpcCompression = &client.GrpcCompressionNone{}
	}
	c, err := client.Dial(client.Options{
		ConnectionOptions: opts,
		HostPort:          os.Getenv("TEMPORAL_ADDRESS"),
		Namespace:         os.Getenv("TEMPORAL_NAMESPACE"),
		Logger:            sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(release, workflow.RegisterOptions{Name: parentName})
	w.RegisterWorkflowWithOptions(environment, workflow.RegisterOptions{Name: childName})
	w.RegisterActivityWithOptions(step, activityRegisterOptions())
	return w.Run(worker.InterruptCh())
}

// release runs one environment as a child and ends with it.
func release(ctx workflow.Context, checkURL string) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "/env",
	})
	return workflow.ExecuteChildWorkflow(cctx, childName, checkURL).Get(ctx, nil)
}

// environment runs one activity, then waits for the approve Update.
func environment(ctx workflow.Context, checkURL string) error {
	approved := false
	if err := workflow.SetUpdateHandler(ctx, updateName, func(workflow.Context) error {
		approved = true
		return nil
	}); err != nil {
		return err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	if err := workflow.ExecuteActivity(actx, activityName, checkURL).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return approved })
}

// step is the one activity: a GET of the benchmark's server, which is how
// the benchmark learns the environment reached its wait.
func step(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func activityRegisterOptions() activity.RegisterOptions {
	return activity.RegisterOptions{Name: activityName}
}

// uncompressed is the runbook worker's choice of gRPC compression
// (worker.grpcCompression): none when asked, or when unset for a loopback
// server.
func uncompressed(setting, hostPort string) bool {
	if setting != "" {
		return setting == "none"
	}
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}
