package test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/workflows"
)

// scheduleRunbook is a staging-only runbook: its artifact is one file per
// version, its check names the version it was released with.
const scheduleRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.X.Dir}}/app-${version}.bin
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/staging/${version}/healthz
          interval: 250ms
`

// scheduleProdRunbook has a production environment, which takes signed
// decisions by default: no schedule may release it.
const scheduleProdRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.X.Dir}}/app-${version}.bin
environments:
  - name: production
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/production/healthz
`

// scheduleFiring is what `runbook schedule trigger -o json` prints.
type scheduleFiring struct {
	Run string `json:"run"`
	workflows.ScheduledReleaseResult
}

// TestScheduledRelease: a release schedule with a version file fires
// (`schedule trigger`) and starts release/<svc>/1.0.0, which succeeds with
// status and audit naming the schedule; fired again with the file unchanged
// it skips, saying so, and starts no second release; with 1.1.0 in the file
// the next firing releases 1.1.0. A production runbook is refused.
func TestScheduledRelease(t *testing.T) {
	t.Parallel()
	r := newRig(t, "sched")
	rec := newRecorder(t)
	r.startWorker()
	data := map[string]any{"URL": rec.srv.URL, "Dir": r.dir}
	path, _ := r.writeRunbook("runbook.yaml", scheduleRunbook, data)
	write := func(name, content string) string {
		p := filepath.Join(r.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("app-1.0.0.bin", "app 1.0.0\n")
	write("app-1.1.0.bin", "app 1.1.0\n")
	versionFile := write("VERSION", "1.0.0\n")

	prod, _ := r.writeRunbook("prod.yaml", scheduleProdRunbook, data)
	res := r.cli("schedule", "create", prod, "--cron", "0 9 * * TUE", "--version-from", "file://"+versionFile)
	if res.code == 0 || !strings.Contains(res.stderr, "identity: unsigned") || !strings.Contains(res.stderr, "production") {
		t.Errorf("schedule create of a production runbook: want a refusal naming identity: unsigned, got %s", res)
	}

	id := "nightly-" + r.service
	r.mustCLI("schedule", "create", path, "--cron", "0 9 * * TUE", "--version-from", "file://"+versionFile, "--id", id, "--as", "dana")
	eventually(t, "schedule list shows "+id, func() bool {
		res := runCLIQuiet(r.env, "schedule", "list")
		return res.code == 0 && strings.Contains(res.stdout, id) && strings.Contains(res.stdout, `"0 9 * * TUE"`)
	})

	first := r.trigger(id)
	rel := workflows.ReleaseID(r.service, "1.0.0")
	if first.Outcome != workflows.ScheduledStarted || first.ReleaseID != rel {
		t.Fatalf("first firing: got %+v, want %s started", first, rel)
	}
	st := r.waitFor(rel, "succeeded", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("%s ended %s: %s", rel, st.State, st.Reason)
	}
	if tr := st.Trigger; tr == nil || tr.Kind != "schedule" || tr.Source != id || tr.ID == "" || st.Requester != "schedule:"+id {
		t.Errorf("status of %s: trigger %+v requester %q, want the schedule %s", rel, st.Trigger, st.Requester, id)
	}
	if got := rec.requests("/staging/1.0.0/"); len(got) == 0 {
		t.Errorf("the release's check never asked for version 1.0.0")
	}
	started := auditOf(r.auditRecords(rel), "release.started", "")
	if started == nil || !strings.Contains(started["detail"].(string), "started by schedule "+id) || started["actor"] != "schedule:"+id {
		t.Errorf("audit release.started of %s: %v; want it to name the schedule %s", rel, started, id)
	}
	runID := r.latestRun(rel)
	exportHistory(t, r.rc.Temporal, first.Run, "", "scheduled-release-started")
	exportHistory(t, r.rc.Temporal, rel, "", "release-scheduled")

	second := r.trigger(id)
	if second.Outcome != workflows.ScheduledSkipped || second.Summary != "skipped: 1.0.0 already released" {
		t.Errorf("second firing, version unchanged: got %+v, want skipped: 1.0.0 already released", second)
	}
	if got := r.latestRun(rel); got != runID {
		t.Errorf("%s has a new run %s after a skipped firing (was %s)", rel, got, runID)
	}
	if memo := r.memoOutcome(second.Run); memo != "skipped: 1.0.0 already released" {
		t.Errorf("memo of the skipped firing %s: %q", second.Run, memo)
	}
	exportHistory(t, r.rc.Temporal, second.Run, "", "scheduled-release-skipped")

	write("VERSION", "1.1.0\n")
	third := r.trigger(id)
	rel2 := workflows.ReleaseID(r.service, "1.1.0")
	if third.Outcome != workflows.ScheduledStarted || third.ReleaseID != rel2 {
		t.Fatalf("third firing after VERSION became 1.1.0: got %+v, want %s started", third, rel2)
	}
	if st := r.waitFor(rel2, "finished", func(s workflows.ReleaseStatus) bool { return s.Finished() }); st.State != workflows.StateSucceeded {
		t.Fatalf("%s ended %s: %s", rel2, st.State, st.Reason)
	}

	// A version whose artifact was never built: the firing fails, saying why.
	write("VERSION", "1.2.0\n")
	if res := r.cli("schedule", "trigger", id); res.code == 0 || !strings.Contains(res.stderr, "app-1.2.0.bin does not exist") {
		t.Errorf("firing for a version without its artifact: want a failure naming app-1.2.0.bin, got %s", res)
	}

	r.mustCLI("schedule", "delete", id)
	if res := r.cli("schedule", "trigger", id); res.code == 0 || !strings.Contains(res.stderr, "no schedule "+id) {
		t.Errorf("trigger after delete: want no schedule %s, got %s", id, res)
	}
}

// trigger fires a schedule through the CLI and returns what the firing did.
func (r *rig) trigger(id string) scheduleFiring {
	r.t.Helper()
	res := r.mustCLI("schedule", "trigger", id, "-o", "json")
	var f scheduleFiring
	if err := json.Unmarshal([]byte(res.stdout), &f); err != nil || f.Run == "" {
		r.t.Fatalf("schedule trigger -o json: %v\n%s", err, res)
	}
	return f
}

// latestRun is the run ID of the newest run of a workflow.
func (r *rig) latestRun(id string) string {
	r.t.Helper()
	d, err := r.rc.Temporal.DescribeWorkflow(context.Background(), id, "")
	if err != nil {
		r.t.Fatalf("describe %s: %v", id, err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// memoOutcome is the outcome a scheduled release wrote into its memo.
func (r *rig) memoOutcome(id string) string {
	r.t.Helper()
	d, err := r.rc.Temporal.DescribeWorkflow(context.Background(), id, "")
	if err != nil {
		r.t.Fatalf("describe %s: %v", id, err)
	}
	var s string
	if p := d.RawResponse.GetWorkflowExecutionInfo().GetMemo().GetFields()["outcome"]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

// TestScheduledReleaseCron: a schedule fires on its own at the next minute
// (cron "* * * * *" on the dev server) and the release's trigger carries
// the scheduled action time, a whole minute.
func TestScheduledReleaseCron(t *testing.T) {
	t.Parallel()
	r := newRig(t, "schedcron")
	rec := newRecorder(t)
	r.startWorker()
	path, _ := r.writeRunbook("runbook.yaml", scheduleRunbook, map[string]any{"URL": rec.srv.URL, "Dir": r.dir})
	if err := os.WriteFile(filepath.Join(r.dir, "app-2.0.0.bin"), []byte("app 2.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	versionFile := filepath.Join(r.dir, "VERSION")
	if err := os.WriteFile(versionFile, []byte("2.0.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := "every-minute-" + r.service
	r.mustCLI("schedule", "create", path, "--cron", "* * * * *", "--version-from", versionFile, "--id", id)
	t.Cleanup(func() { runCLIQuiet(r.env, "schedule", "delete", id) })

	rel := workflows.ReleaseID(r.service, "2.0.0")
	// The next minute may be up to 60s away: wait longer than pollDeadline.
	deadline := time.Now().Add(pollDeadline + time.Minute)
	for {
		if _, err := r.rc.Temporal.DescribeWorkflow(context.Background(), rel, ""); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the every-minute schedule %s did not start %s within two minutes", id, rel)
		}
		time.Sleep(pollInterval)
	}
	st := r.waitFor(rel, "finished", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("%s ended %s: %s", rel, st.State, st.Reason)
	}
	at, err := time.Parse(time.RFC3339, st.Trigger.ID)
	if err != nil || st.Trigger.Source != id || at.Second() != 0 {
		t.Errorf("trigger of %s: %+v; want schedule %s at a whole minute", rel, st.Trigger, id)
	}
}
