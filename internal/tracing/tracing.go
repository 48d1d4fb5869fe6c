// Package tracing exports OpenTelemetry traces of workflows and activities
// through the Temporal SDK's tracing interceptor, over OTLP, when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set.
// The exporter reads the other OTEL_* variables itself (headers, timeout,
// TLS); OTEL_EXPORTER_OTLP_PROTOCOL picks http/protobuf (the default) or
// grpc. Unset, nothing is set up and nothing is paid.
//
// Spans carry names and IDs only: the interceptor records no payloads, and
// errors are recorded by type, never by message (a failure's message can
// hold what payloads hold: a check's URL, a rejection's comment), since
// traces leave the codec's protection.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// Service names of runbook's processes.
const (
	ServiceWorker = "runbook-worker"
	ServiceCLI    = "runbook-cli"
)

// Tracing is the interceptor to add to the Temporal client's options (a
// worker made from that client traces with it too) and the shutdown that
// flushes the spans still buffered.
type Tracing struct {
	Interceptor interceptor.Interceptor
	provider    *sdktrace.TracerProvider
}

// Enabled says whether getenv configures an OTLP endpoint for traces.
func Enabled(getenv func(string) string) bool {
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// FromEnv sets tracing up as the environment says, for service (the
// default service.name; OTEL_SERVICE_NAME overrides it). Without an
// endpoint it returns nil: no exporter, no interceptor.
func FromEnv(ctx context.Context, service string) (*Tracing, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	exp, err := exporter(ctx, os.Getenv)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	ic, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:      tp.Tracer("github.com/runbookhq/runbook"),
		SpanStarter: startScrubbed,
	})
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, err
	}
	return &Tracing{Interceptor: ic, provider: tp}, nil
}

// exporter is the OTLP exporter of the configured protocol.
func exporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: runbook exports http/protobuf or grpc", proto)
}

// Shutdown sends the buffered spans (within ctx) and stops the exporter.
// A nil Tracing has nothing to do.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// startScrubbed starts the interceptor's spans as scrubbed spans.
func startScrubbed(ctx context.Context, t trace.Tracer, name string, opts ...trace.SpanStartOption) trace.Span {
	_, s := t.Start(ctx, name, opts...)
	return scrubbed{s}
}

// scrubbed records an error by its type, never its message.
type scrubbed struct{ trace.Span }

// RecordError records that an error of err's type happened.
func (s scrubbed) RecordError(err error, _ ...trace.EventOption) {
	if err != nil {
		s.Span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.type", errorType(err))))
	}
}

// SetStatus keeps the code and drops the description (the error message).
func (s scrubbed) SetStatus(code codes.Code, _ string) {
	s.Span.SetStatus(code, "")
}

// errorType names err without its message: a Temporal application error's
// type (e.g. AuditLogBroken), else the Go type.
func errorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() != "" {
		return app.Type()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timeout:" + te.TimeoutType().String()
	}
	var ce *temporal.CanceledError
	if errors.As(err, &ce) {
		return "canceled"
	}
	return fmt.Sprintf("%T", err)
}
