package tracing

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/testenv/otlpfake"
)

// TestScrubbedSpansKeepNoMessage: an error is recorded by its type and
// the span's status by its code; the message (a check URL, a comment)
// goes nowhere.
func TestScrubbedSpansKeepNoMessage(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	s := startScrubbed(context.Background(), tp.Tracer("t"), "RunActivity:HTTPCheck")
	err := temporal.NewApplicationError("GET https://user:hunter2@example/x failed", "HTTPCheckFailed")
	s.RecordError(err)
	s.SetStatus(codes.Error, err.Error())
	s.End()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	sp := spans[0]
	if sp.Status().Code != codes.Error || sp.Status().Description != "" {
		t.Errorf("status %+v", sp.Status())
	}
	if len(sp.Events()) != 1 || sp.Events()[0].Attributes[0].Value.AsString() != "HTTPCheckFailed" {
		t.Errorf("events %+v", sp.Events())
	}
	for _, ev := range sp.Events() {
		for _, a := range ev.Attributes {
			if strings.Contains(a.Value.AsString(), "hunter2") {
				t.Errorf("event attribute %s carries the message", a.Key)
			}
		}
	}
	if got := errorType(errors.New("x")); got != "*errors.errorString" {
		t.Errorf("errorType = %q", got)
	}
}

// TestFromEnv: no endpoint, no tracing; an unknown protocol is refused.
func TestFromEnv(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if tr, err := FromEnv(context.Background(), ServiceCLI); tr != nil || err != nil {
		t.Errorf("unset: %v, %v", tr, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if _, err := FromEnv(context.Background(), ServiceCLI); err == nil || !strings.Contains(err.Error(), "http/json") {
		t.Errorf("http/json: %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	tr, err := FromEnv(context.Background(), ServiceWorker)
	if err != nil || tr == nil || tr.Interceptor == nil {
		t.Fatalf("grpc: %v, %v", tr, err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown with nothing sent: %v", err)
	}
}

// TestExportBothProtocols: a span reaches an OTLP receiver over
// http/protobuf and over grpc, with the service name, and Shutdown sends
// it (the batcher alone would wait seconds).
func TestExportBothProtocols(t *testing.T) {
	for proto, start := range map[string]func(testing.TB) *otlpfake.Receiver{
		"http/protobuf": otlpfake.Start, "grpc": otlpfake.StartGRPC,
	} {
		rec := start(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rec.Endpoint)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", proto)
		tr, err := FromEnv(context.Background(), ServiceWorker)
		if err != nil || tr == nil {
			t.Fatalf("%s: %v", proto, err)
		}
		_, span := tr.provider.Tracer("t").Start(context.Background(), "RunWorkflow:Release")
		span.End()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatalf("%s: shutdown: %v", proto, err)
		}
		spans := rec.Spans()
		if len(spans) != 1 || spans[0].Name != "RunWorkflow:Release" || spans[0].Service != ServiceWorker {
			t.Errorf("%s: received %+v", proto, spans)
		}
	}
}
