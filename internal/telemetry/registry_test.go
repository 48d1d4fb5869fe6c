package telemetry

import (
	"strings"
	"testing"
	"time"
)

// TestRegistryText: counters add, gauges set, timers fill cumulative
// buckets in seconds; tags become sorted, escaped labels; each name is
// typed once; a name used as two kinds keeps both apart.
func TestRegistryText(t *testing.T) {
	r := New()
	h := r.Handler().WithTags(map[string]string{"namespace": "default"})
	wf := h.WithTags(map[string]string{"workflow_type": `Re"lease`})
	wf.Counter("temporal_workflow_completed").Inc(2)
	wf.Counter("temporal_workflow_completed").Inc(1)
	h.Gauge("temporal_sticky_cache_size").Update(7)
	tm := wf.Timer("temporal_workflow_task_execution_latency")
	tm.Record(3 * time.Millisecond)
	tm.Record(200 * time.Millisecond)
	tm.Record(2 * time.Minute)
	h.Gauge("temporal_workflow_completed").Update(1)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE temporal_workflow_completed counter\n",
		`temporal_workflow_completed{namespace="default",workflow_type="Re\"lease"} 3` + "\n",
		"# TYPE temporal_sticky_cache_size gauge\ntemporal_sticky_cache_size{namespace=\"default\"} 7\n",
		`temporal_workflow_task_execution_latency_bucket{namespace="default",workflow_type="Re\"lease",le="0.005"} 1` + "\n",
		`temporal_workflow_task_execution_latency_bucket{namespace="default",workflow_type="Re\"lease",le="0.25"} 2` + "\n",
		`temporal_workflow_task_execution_latency_bucket{namespace="default",workflow_type="Re\"lease",le="+Inf"} 3` + "\n",
		`temporal_workflow_task_execution_latency_count{namespace="default",workflow_type="Re\"lease"} 3` + "\n",
		"# TYPE temporal_workflow_completed_gauge gauge\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "# TYPE temporal_workflow_completed counter"); n != 1 {
		t.Errorf("typed %d times", n)
	}
}

// TestLongTimers: a gate's wait is counted in hours-wide buckets, not all
// in +Inf as the SDK's latency buckets would put it.
func TestLongTimers(t *testing.T) {
	r := New()
	r.Handler().WithTags(map[string]string{LabelOutcome: "approved"}).Timer(GateWaitSeconds).Record(2 * time.Hour)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		GateWaitSeconds + `_bucket{outcome="approved",le="3600"} 0` + "\n",
		GateWaitSeconds + `_bucket{outcome="approved",le="14400"} 1` + "\n",
		GateWaitSeconds + `_sum{outcome="approved"} 7200` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
}

// TestHandlersShared: the SDK makes a handler per cached workflow; the same
// label set gets one shared handler, whose series are those of the first.
func TestHandlersShared(t *testing.T) {
	r := New()
	a := r.Handler().WithTags(map[string]string{"workflow_type": "Release"})
	b := r.Handler().WithTags(map[string]string{"workflow_type": "Release"})
	if a != b {
		t.Error("two handlers for one label set; want one shared")
	}
	if c := r.Handler().WithTags(map[string]string{"workflow_type": "Environment"}); c == a {
		t.Error("handlers of different label sets are shared")
	}
	a.Counter("temporal_workflow_completed").Inc(1)
	b.Counter("temporal_workflow_completed").Inc(2)
	var out strings.Builder
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if want := `temporal_workflow_completed{workflow_type="Release"} 3`; !strings.Contains(out.String(), want) {
		t.Errorf("missing %q in:\n%s", want, out.String())
	}
}
