package telemetry

import (
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// record is what the SDK does for each poll, task and activity: tags, a
// counter, an increment.
func record(h client.MetricsHandler) {
	h.WithTags(map[string]string{"task_queue": "runbook", "activity_type": "HTTPCheck"}).Counter("temporal_activity_execution_failed").Inc(1)
}

// perCall is the mean time of one record on h over n calls.
func perCall(h client.MetricsHandler, n int) time.Duration {
	start := time.Now()
	for range n {
		record(h)
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkSDKCounter prints what recording one SDK counter costs here,
// next to the floor measured in the same run: the SDK's no-op handler,
// which records nothing.
func BenchmarkSDKCounter(b *testing.B) {
	h := New().Handler().WithTags(map[string]string{"namespace": "default"})
	const n = 200_000
	perCall(h, n/10) // warm up the series
	fmt.Printf("bench: telemetry-counter-inc %d ns\n", perCall(h, n).Nanoseconds())
	fmt.Printf("bench: telemetry-counter-inc-floor %d ns\n", perCall(client.MetricsNopHandler, n).Nanoseconds())
	for b.Loop() {
		record(h)
	}
}

// BenchmarkRunbookTimer prints what one of runbook's own observations
// costs as the audit activity makes it (tags added per call, then a
// timer), so an audit append or a gate decision pays this once.
func BenchmarkRunbookTimer(b *testing.B) {
	h := New().Handler().WithTags(map[string]string{"namespace": "default", "activity_type": "AppendAudit"})
	observe := func(h client.MetricsHandler) {
		h.WithTags(map[string]string{LabelOutcome: "ok"}).Timer(AuditAppendSeconds).Record(3 * time.Millisecond)
	}
	const n = 100_000
	for range n / 10 {
		observe(h)
	}
	start := time.Now()
	for range n {
		observe(h)
	}
	fmt.Printf("bench: telemetry-runbook-timer-record %d ns\n", (time.Since(start) / n).Nanoseconds())
	for b.Loop() {
		observe(h)
	}
}
