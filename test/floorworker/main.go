// Command floorworker is the floor of the scale benchmark (test/bench_scale_test.go):
// a plain Temporal Go SDK worker, in a process of its own so its RSS is measured
// as the runbook worker's is, running workflows of a release's shape and nothing
// more: a parent, one child, one activity, then a wait until an Update arrives.
// What runbook costs beyond that is runbook's own.
//
// It reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and FLOOR_TASK_QUEUE, and runs
// until SIGTERM or SIGINT. FLOOR_EXTRAS adds one kind of work a release does
// beyond the shape, to price it on the same server (BenchmarkFloorCosts):
// "upsert=N", "signal=N", "local=N" or "timer=1" (see extras); "query=N" is
// the benchmark's own (queries of the parent before each approval), which this
// worker answers whatever FLOOR_EXTRAS says, and so is "pad=N" (N bytes more in
// the check URL, which the parent's and the child's inputs and the activity's
// carry: what a release's larger inputs cost).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names the benchmark starts and updates the workflows by.
const (
	parentName   = "FloorRelease"
	childName    = "FloorEnvironment"
	activityName = "FloorStep"
	updateName   = "approve"
	localName    = "FloorLocal"
	progressName = "progress"
	queryName    = "status"
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
	var err error
	if more, err = parseExtras(os.Getenv("FLOOR_EXTRAS")); err != nil {
		return err
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
	w.RegisterActivityWithOptions(nothing, activity.RegisterOptions{Name: localName})
	return w.Run(worker.InterruptCh())
}

// extras is what FLOOR_EXTRAS adds to every environment, all of it in the
// workflow task that reaches the wait: upserts of a search attribute,
// signals to the parent (which takes each in a workflow task of its own,
// as a release takes an environment's progress), local activities (one
// marker each) and a timer on the wait.
type extras struct{ upserts, signals, locals, timers int }

// more is this worker's extras: the same for every workflow it runs, read
// once at start, so replays agree.
var more extras

// parseExtras reads "kind=N,…".
func parseExtras(s string) (extras, error) {
	var x extras
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return x, fmt.Errorf("FLOOR_EXTRAS: %q wants kind=N with N a count", kv)
		}
		switch k {
		case "upsert":
			x.upserts = n
		case "signal":
			x.signals = n
		case "local":
			x.locals = n
		case "timer":
			x.timers = min(n, 1)
		case "query", "pad":
			// The benchmark's client asks the queries (the handler is
			// always set) and pads the check URL the workflows carry.
		default:
			return x, fmt.Errorf("FLOOR_EXTRAS: unknown kind %q (upsert, signal, local, timer, query, pad)", k)
		}
	}
	return x, nil
}

// stepKey is the search attribute the upserts write: one of runbook's, which
// the benchmark's namespace has.
var stepKey = temporal.NewSearchAttributeKeyKeyword("RunbookStep")

// release runs one environment as a child and ends with it, taking its
// signals, if any, as they come, and answering a status query (with about
// the bytes of a release's status) all along.
func release(ctx workflow.Context, checkURL string) error {
	if err := workflow.SetQueryHandler(ctx, queryName, func() (string, error) {
		return statusAnswer, nil
	}); err != nil {
		return err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "/env",
	})
	progress := workflow.GetSignalChannel(ctx, progressName)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for progress.Receive(ctx, nil) {
		}
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
	if err := addExtras(ctx); err != nil {
		return err
	}
	if more.timers > 0 {
		_, err := workflow.AwaitWithTimeout(ctx, 24*time.Hour, func() bool { return approved })
		return err
	}
	return workflow.Await(ctx, func() bool { return approved })
}

// addExtras does what FLOOR_EXTRAS asks before the wait.
func addExtras(ctx workflow.Context) error {
	for i := range more.upserts {
		if err := workflow.UpsertTypedSearchAttributes(ctx, stepKey.ValueSet(fmt.Sprintf("step-%d", i))); err != nil {
			return err
		}
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 5 * time.Second})
	for range more.locals {
		if err := workflow.ExecuteLocalActivity(lctx, localName).Get(ctx, nil); err != nil {
			return err
		}
	}
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	for i := range more.signals {
		if parent == nil {
			break
		}
		// Not waited for, as an environment's progress is not.
		workflow.SignalExternalWorkflow(ctx, parent.ID, "", progressName, i)
	}
	return nil
}

// statusAnswer is the status query's answer: the size of a one-environment
// release's status at its gate.
var statusAnswer = strings.Repeat("s", 2048)

// nothing is the local activity of the extras.
func nothing(context.Context) error { return nil }

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
