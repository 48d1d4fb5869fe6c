package test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/grafanafake"
	"github.com/runbookhq/runbook/internal/testenv/otlpfake"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

const telemetryRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: warm-cache
        http-check:
          url: {{.X.URL}}/do/warm-cache
          method: POST
        on-rollback:
          url: {{.X.URL}}/undo/warm-cache
          method: POST
      - name: go-live
        approval:
          approvers: [bob]
`

// telemetryComment is the rejection's reason: it is in the audit log and
// the status, and must be in no span.
const telemetryComment = "tel-reason-4c1f0e"

// TestTelemetryOfARollback: a release started by the CLI with tracing on,
// rejected at its gate and rolled back, shows on every channel the worker
// reports on: the releases-in-flight gauge while it waits, the gate wait
// and rollback duration and audit latency on /metrics (scraped by a real
// Prometheus), its start, rollback and end as Grafana annotations, and one
// trace from the CLI's StartWorkflow through RunWorkflow:Release to its
// activities, with no rejection comment in any span. The shipped Grafana
// dashboard's queries all run on that Prometheus.
func TestTelemetryOfARollback(t *testing.T) {
	t.Parallel()
	r := newRig(t, "tel")
	rec := newRecorder(t)
	g := grafanafake.Start(t, "glsa-e2e-token")
	otlp := otlpfake.Start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	otel := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp.Endpoint, "OTEL_BSP_SCHEDULE_DELAY=200"}
	r.startWorker(append([]string{"RUNBOOK_HTTP_ADDR=" + addr, "RUNBOOK_GRAFANA_URL=" + g.URL, "RUNBOOK_GRAFANA_TOKEN=env:E2E_GRAFANA_TOKEN", "E2E_GRAFANA_TOKEN=glsa-e2e-token"}, otel...)...)
	begin := time.Now()

	path, digest := r.writeRunbook("runbook.yaml", telemetryRunbook, map[string]any{"URL": rec.srv.URL})
	res := runCLI(t, append(slices.Clone(r.env), otel...), "", "deploy", path, "--version", "1.0.0", "--digest", digest, "--as", "alice")
	id := workflows.ReleaseID(r.service, "1.0.0")
	if res.code != 0 {
		t.Fatalf("deploy: %s", res)
	}
	r.waitFor(id, "gate go-live waiting", gateWaiting("staging", "go-live"))
	// Started now, its first scrape reads the releases in flight afresh
	// (the worker caches them for 15 s).
	p := prom.Start(t, addr)
	p.WaitForData(t, fmt.Sprintf(`runbook_releases{service=%q} == 1`, r.service), pollDeadline)

	r.mustCLI("reject", id, "--as", "bob", "--comment", telemetryComment)
	st := r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release ended %s, want rolled-back", st.State)
	}

	sel := fmt.Sprintf(`service=%q,environment="staging"`, r.service)
	p.WaitForData(t, `runbook_gate_wait_seconds_count{`+sel+`,outcome="rejected"} == 1`, pollDeadline)
	p.WaitForData(t, `runbook_rollback_duration_seconds_count{`+sel+`,outcome="rolled-back"} == 1`, pollDeadline)
	p.WaitForData(t, `sum(runbook_audit_append_seconds_count{outcome="ok"}) > 0`, pollDeadline)

	checkAnnotations(t, g, id)
	checkTrace(t, otlp, id)
	checkDashboard(t, p, begin)
}

// checkAnnotations waits for the release's start, its rollback and the
// staging environment's end on the fake Grafana.
func checkAnnotations(t *testing.T, g *grafanafake.Server, id string) {
	t.Helper()
	want := [][]string{
		{"release:" + id, "kind:release-started"},
		{"release:" + id, "kind:rollback", "env:staging"},
		{"release:" + id, "kind:environment-rolled-back", "env:staging"},
	}
	eventually(t, "Grafana has the start, rollback and end annotations", func() bool {
		for _, tags := range want {
			if len(g.Tagged(tags...)) != 1 {
				return false
			}
		}
		return true
	})
	t.Logf("Grafana annotations: %+v", g.Annotations())
	if g.Refused() != 0 {
		t.Errorf("Grafana refused %d requests: the token was not sent", g.Refused())
	}
}

// checkTrace waits for one trace holding the CLI's StartWorkflow:Release,
// the worker's RunWorkflow:Release and its activities, and looks for the
// rejection comment in everything exported.
func checkTrace(t *testing.T, otlp *otlpfake.Receiver, id string) {
	t.Helper()
	var trace string
	eventually(t, "the release's trace reaches the OTLP receiver", func() bool {
		spans := otlp.Spans()
		i := slices.IndexFunc(spans, func(s otlpfake.Span) bool {
			return s.Service == "runbook-cli" && s.Name == "StartWorkflow:Release" && s.Attrs["temporalWorkflowID"] == id
		})
		if i < 0 {
			return false
		}
		trace = spans[i].TraceID
		in := func(service, prefix string) bool {
			return slices.ContainsFunc(spans, func(s otlpfake.Span) bool {
				return s.TraceID == trace && s.Service == service && strings.HasPrefix(s.Name, prefix)
			})
		}
		return in("runbook-worker", "RunWorkflow:Release") && in("runbook-worker", "RunWorkflow:Environment") &&
			in("runbook-worker", "RunActivity:")
	})
	var names []string
	for _, s := range otlp.Spans() {
		if s.TraceID == trace {
			names = append(names, s.Service+" "+s.Name)
		}
	}
	t.Logf("trace %s: %d spans: %s", trace, len(names), strings.Join(names, ", "))
	for _, raw := range otlp.Raw() {
		if bytes.Contains(raw, []byte(telemetryComment)) {
			t.Fatalf("an exported span carries the rejection comment %q", telemetryComment)
		}
	}
}

// TestTelemetryOfACanary: a canary's analysis verdicts are counted by
// check and verdict on the worker's /metrics, and a release rolled back
// by an SLO breach records its rollback's duration.
func TestTelemetryOfACanary(t *testing.T) {
	t.Parallel()
	r := newRig(t, "tel-canary")
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{50, 100}, bake: 2 * time.Second,
		workerEnv: []string{"RUNBOOK_HTTP_ADDR=" + addr}})
	s.startLoad(t)
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if st := s.release(v); st.State != workflows.StateSucceeded {
			t.Fatalf("release %s: %s (%s)", v, st.State, st.Reason)
		}
	}
	metric := func(name string, labels ...string) float64 {
		_, body, err := httpGet("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		sum := 0.0
		for _, line := range strings.Split(body, "\n") {
			if !strings.HasPrefix(line, name+"{") || slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(line, l) }) {
				continue
			}
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
		return sum
	}
	for _, check := range []string{"errors", "p99"} {
		if n := metric("runbook_analysis_verdicts_total", `check="`+check+`"`, `verdict="pass"`); n < 2 {
			t.Errorf("check %s passed %v times on /metrics, want at least one per weight", check, n)
		}
	}

	id := r.deploy(s.path, s.digest, "3.0.0", requester)
	r.waitFor(id, "canary 3.0.0 baking", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase >= 1
	})
	s.fault("green", 1)
	st := r.waitFor(id, "3.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release 3.0.0 is %s (%s), want rolled-back after an SLO breach", st.State, st.Reason)
	}
	if n := metric("runbook_analysis_verdicts_total", `check="errors"`, `verdict="fail"`); n < 1 {
		t.Errorf("no failing errors verdict counted")
	}
	if n := metric("runbook_rollback_duration_seconds_count", `service="`+r.service+`"`, `outcome="rolled-back"`); n != 1 {
		t.Errorf("%v rollbacks recorded, want 1", n)
	}
}
