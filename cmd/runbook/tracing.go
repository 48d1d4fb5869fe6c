package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/interceptor"

	"github.com/runbookhq/runbook/internal/tracing"
)

// tracer is this process's tracing, set up by startTracing when an OTLP
// endpoint is configured; nil otherwise.
var tracer *tracing.Tracing

// startTracing sets up OTLP traces as OTEL_* says (service runbook-worker
// for `runbook worker` and `runbook dev`, which runs one, runbook-cli
// otherwise) and returns what flushes
// them at exit. A bad configuration is reported and tracing left off: a
// deploy or a worker does not fail for want of its traces.
func startTracing(args []string) func() {
	service := tracing.ServiceCLI
	if v := commandName(args); v == "worker" || v == "dev" {
		service = tracing.ServiceWorker
	}
	t, err := tracing.FromEnv(context.Background(), service)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runbook: traces off:", err)
		return func() {}
	}
	tracer = t
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := t.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "runbook: traces not all sent:", err)
		}
	}
}

// commandName is the verb args run: the first argument that is neither a
// flag nor the value of a global flag (`--address X worker` runs worker,
// `deploy r.yaml --as worker` runs deploy).
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--address" || a == "--namespace":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

// tracingInterceptors are the client interceptors that trace, if any.
func tracingInterceptors() []interceptor.ClientInterceptor {
	if tracer == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{tracer.Interceptor}
}
