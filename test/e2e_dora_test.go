package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/dora"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

const doraRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    steps:
      - name: go
        approval:
          approvers: [bob]
      - name: smoke
        http-check:
          url: {{.X.URL}}/smoke
`

// TestDORAFromReleaseHistory: two releases succeed in production and one
// is aborted between them; `runbook metrics dora` counts them from the
// release history: two deployments, one failure, one restore.
func TestDORAFromReleaseHistory(t *testing.T) {
	t.Parallel()
	r := newRig(t, "dora")
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	r.startWorker("RUNBOOK_HTTP_ADDR=" + addr)
	rec := newRecorder(t)
	path, digest := r.writeRunbook("runbook.yaml", doraRunbook, map[string]any{"URL": rec.srv.URL})
	for _, v := range []struct {
		version string
		abort   bool
	}{{"1.0.0", false}, {"1.1.0", true}, {"1.2.0", false}} {
		id := r.deploy(path, digest, v.version, "carol")
		r.waitFor(id, "gate go waiting", gateWaiting("production", "go"))
		if v.abort {
			r.mustCLI("abort", id, "--as", "bob", "--reason", "bad build")
		} else {
			r.mustCLI("approve", id, "--as", "bob")
		}
		r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	}
	var d dora.Metrics
	eventually(t, "the three releases are visible to metrics dora", func() bool {
		res := r.cli("metrics", "dora", "--service", r.service, "--env", "production", "-o", "json")
		return res.code == 0 && json.Unmarshal([]byte(res.stdout), &d) == nil && d.Deployments+d.Failures == 3
	})
	if d.Deployments != 2 || d.Failures != 1 || d.Restores != 1 || d.ChangeFailureRate < 0.33 || d.ChangeFailureRate > 0.34 {
		t.Errorf("dora = %+v; want 2 deployments, 1 failure (rate 1/3), 1 restore", d)
	}
	if d.LeadTime <= 0 || d.TimeToRestore <= 0 {
		t.Errorf("lead time %s and time to restore %s should be measured", d.LeadTime, d.TimeToRestore)
	}
	// The gauges are computed in the background, so a scrape may come
	// before them; they come with a later one.
	want := fmt.Sprintf("runbook_dora_deployments{service=%q} 2\n", r.service)
	var body string
	eventually(t, "the DORA gauges on /metrics", func() bool {
		code, b, err := httpGet("http://" + addr + "/metrics")
		body = b
		return err == nil && code == http.StatusOK && strings.Contains(b, want) && strings.Contains(b, "# TYPE runbook_dora_change_failure_rate gauge")
	})
	// The Temporal SDK's own metrics are there too, and a real Prometheus
	// takes the whole page (one bad line and it drops the scrape).
	if !strings.Contains(body, "# TYPE temporal_workflow_task_execution_latency histogram") || !strings.Contains(body, "temporal_activity_execution_latency_bucket{") {
		t.Errorf("GET /metrics lacks the SDK's workflow task and activity latencies:\n%s", body)
	}
	p := prom.Start(t, addr)
	p.WaitForData(t, `runbook_dora_deployments{service="`+r.service+`"} == 2`, pollDeadline)
	p.WaitForData(t, `temporal_workflow_completed{workflow_type="Release"}`, pollDeadline)
	p.WaitForData(t, `sum(temporal_activity_execution_latency_count) > 0`, pollDeadline)
}
