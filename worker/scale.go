package worker

import (
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"

	"go.temporal.io/sdk/client"
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
	// EnvCompression is how the worker and the CLI compress their gRPC
	// requests to Temporal: "gzip" (the SDK's default) or "none". Unset,
	// none for a server on a loopback address, else gzip.
	EnvCompression = "RUNBOOK_TEMPORAL_COMPRESSION"
)

// defaultGCPercent is the worker's GOGC unless the environment sets one.
// Go's default, 100, lets the heap grow to twice what is live before it
// collects; a worker's live heap is mostly releases waiting at their gates
// for hours or days, so that headroom is memory held for nothing. At 50
// the scale benchmark measured 1,000 releases at their gates in 193 MB RSS
// instead of 219 MB, for about a millisecond more worker CPU per release.
const defaultGCPercent = 50

// tuneGC sets defaultGCPercent when GOGC is not set: an operator's GOGC
// (or GOMEMLIMIT beside it) wins.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// grpcCompression reads EnvCompression's value for a server at hostPort.
// Gzip saves bytes on a metered or distant link; on the same host it only
// costs CPU on both ends (in the scale benchmark, a tenth of the worker's
// CPU while releases start, and the server's share of it).
func grpcCompression(v, hostPort string) (client.GrpcCompression, error) {
	switch v {
	case "":
		if loopback(hostPort) {
			return &client.GrpcCompressionNone{}, nil
		}
		return nil, nil // the SDK's default, gzip
	case "gzip":
		return nil, nil
	case "none":
		return &client.GrpcCompressionNone{}, nil
	}
	return nil, fmt.Errorf("%s=%q: want gzip or none", EnvCompression, v)
}

// loopback reports whether hostPort names this host: localhost or a
// loopback IP.
func loopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

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
