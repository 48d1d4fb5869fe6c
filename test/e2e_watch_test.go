package test

// The post-release watch end to end: a release whose environment watches
// a three-request journey (a token and an order number carried from
// answer to request) succeeds; after it, the shop breaks on the third
// request; the watch acts as an alert of severity journey would, and the
// finished release is rolled back by the one-command rollback, audited
// with the watch's fingerprint.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/alerts"
	"github.com/runbookhq/runbook/workflows"
)

// watchRunbook releases a smoke check into staging and watches the shop
// afterwards, every 10 s, for an hour; a failing watch rolls back.
const watchRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    watch-after: 1h
    on-alert: {journey: rollback}
    rollback-profile: {no-gate: true}
    watch:
      - name: buy
        every: 10s
        journey:
          requests:
            - name: login
              method: POST
              url: {{.X}}/login
              headers: {X-Api-Key: env:RB_CHECK_TOKEN}
              extract: {token: $.session.token}
            - name: order
              method: POST
              url: {{.X}}/orders?release=${version}
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-status: 201
              extract: {order: "header:X-Order-Id"}
            - name: read
              url: {{.X}}/orders/${journey.order}
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-json: {$.id: "${journey.order}", $.paid: true}
    steps:
      - name: smoke
        http-check:
          url: {{.X}}/open/smoke
`

func TestE2EWatchJourneyRollsBackTheRelease(t *testing.T) {
	t.Parallel()
	r := newRig(t, "watch")
	key := newSecret(t)
	shop := newJourneyShop(t, key, false)
	r.env = withoutVar(r.env, tokenVar)
	watchWorker(t, r, tokenVar+"="+key)
	path, digest := r.writeRunbook("runbook.yaml", watchRunbook, shop.srv.URL)
	watchID := workflows.WatchID(r.service, "staging")

	var runs []string
	for _, v := range []string{"1.0.0", "2.0.0"} {
		id := r.deploy(path, digest, v, "alice")
		st := r.waitFor(id, v+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
		assertSucceeded(t, st, "staging")
		run := r.currentRun(watchID, runs)
		runs = append(runs, run)
		ws := r.waitWatch(watchID, run, v+"'s watch passed", func(ws workflows.WatchStatus) bool {
			return len(ws.Journeys) == 1 && ws.Journeys[0].Runs > 0 && ws.Journeys[0].Passed
		})
		if ws.ReleaseID != id || ws.Until.Sub(env(t, st, "staging").EndedAt) != time.Hour {
			t.Fatalf("watch %s watches %s until %s; want %s until an hour after it ended", run, ws.ReleaseID, ws.Until, id)
		}
	}
	if d := r.describe(watchID, runs[0]); d != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Errorf("1.0.0's watch is %s, want terminated: 2.0.0's replaces it", d)
	}

	// 2.0.0 breaks after it finished: orders read back unpaid.
	shop.mu.Lock()
	shop.unpaid = true
	shop.mu.Unlock()
	faultAt := time.Now()
	rid := workflows.RollbackID(r.service, "staging", 1)
	st := r.waitFor(rid, "the watch's rollback finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	t.Logf("fault → watch → rollback finished: %s", time.Since(faultAt).Round(time.Millisecond))
	of := workflows.ReleaseID(r.service, "2.0.0")
	fingerprint := watchID + "/buy"
	tr := st.Trigger
	if st.State != workflows.StateSucceeded || st.Version != "1.0.0" || st.Rollback == nil || st.Rollback.Of != of {
		t.Fatalf("rollback %s: %s %s (%s), %+v; want 1.0.0 back, of 2.0.0", rid, st.State, st.Version, st.Reason, st.Rollback)
	}
	if tr == nil || tr.Kind != "alert" || tr.ID != fingerprint || tr.Source != "watch "+watchID || st.Requester != alerts.Actor ||
		!strings.Contains(tr.Detail, "request read") || !alertFiredRe.MatchString(tr.Detail) {
		t.Fatalf("the rollback does not name the watch: requester %q trigger %+v", st.Requester, tr)
	}

	// The watch stopped after acting, saying why.
	ws := r.waitWatch(watchID, runs[1], "2.0.0's watch ended", func(ws workflows.WatchStatus) bool { return ws.State != workflows.WatchRunning })
	j := ws.Journeys[0]
	if ws.State != workflows.WatchActed || ws.Failures < 1 || j.Passed || !strings.HasPrefix(j.Detail, "request read: ") || j.Action != "rollback" {
		t.Errorf("watch status %+v, want acted after request read failed", ws)
	}
	if d := r.describe(watchID, runs[1]); d != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("2.0.0's watch is %s, want completed", d)
	}

	// Audited on the watch channel with the fingerprint and the rollback.
	entries, err := audit.Read(r.auditLog, audit.Filter{Release: of})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(entries, func(e audit.Entry) bool { return e.Action == "alert.rollback" })
	if i < 0 {
		t.Fatalf("no alert.rollback entry for 2.0.0 in %+v", entries)
	}
	if e := entries[i]; e.Channel != alerts.ChannelWatch || e.Actor != alerts.Actor || !strings.Contains(e.Detail, "fingerprint "+fingerprint) ||
		!strings.Contains(e.Detail, `severity "journey"`) || !strings.Contains(e.Detail, "started "+rid) {
		t.Errorf("alert.rollback entry %+v lacks the channel, fingerprint, severity or the rollback", e)
	}
	if !slices.ContainsFunc(entries, func(e audit.Entry) bool { return e.Action == "watch.started" && strings.Contains(e.Detail, runs[1]) }) {
		t.Errorf("2.0.0 did not audit the start of its watch %s", runs[1])
	}

	// The journey's values (token, order numbers) and the worker's key
	// never reached the watch's history.
	text := historyText(fetchHistory(t, stack.client, watchID, runs[1]))
	if !strings.Contains(text, "${journey.token}") {
		t.Fatal("the watch's history has no ${journey.token}; the search would prove nothing")
	}
	for _, s := range append(shop.values(), key) {
		if strings.Contains(text, s) {
			t.Errorf("the watch's history holds a value of an answer or the worker's key")
		}
	}
	exportHistory(t, stack.client, of, "", "release-watch-started")
	exportHistory(t, stack.client, watchID, runs[1], "watch-journey-rolled-back")
}

// watchWorker starts the test's worker with an alerts file (signing as
// runbook:alerts with the keyring's key, which e2e workers trust).
func watchWorker(t *testing.T, r *rig, extraEnv ...string) {
	t.Helper()
	file := filepath.Join(r.dir, "alerts.yaml")
	text := "auth: {bearer: env:ALERTS_E2E_TOKEN}\nsigning-key: " + theKeyring(t).alertsKey + "\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	r.startWorker(append(extraEnv, "RUNBOOK_HTTP_ADDR="+addr, "RUNBOOK_ALERTS_FILE="+file, "ALERTS_E2E_TOKEN="+alertsToken)...)
	// The watch's last run is left to end with the test's namespace; stop
	// the one the rollback started, as nothing serves it after the test.
	t.Cleanup(func() {
		_ = stack.client.TerminateWorkflow(context.Background(), workflows.WatchID(r.service, "staging"), "", "e2e test ended")
	})
}

// currentRun is the run of workflow id that is not one of seen, polled
// until it exists.
func (r *rig) currentRun(id string, seen []string) string {
	r.t.Helper()
	var run string
	eventually(r.t, "a new run of "+id, func() bool {
		d, err := r.rc.Temporal.DescribeWorkflow(context.Background(), id, "")
		if err != nil {
			return false
		}
		run = d.WorkflowExecution.RunID
		return !slices.Contains(seen, run)
	})
	return run
}

// describe is the status of run of workflow id.
func (r *rig) describe(id, run string) enumspb.WorkflowExecutionStatus {
	r.t.Helper()
	d, err := r.rc.Temporal.DescribeWorkflow(context.Background(), id, run)
	if err != nil {
		r.t.Fatalf("describe %s %s: %v", id, run, err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetStatus()
}

// waitWatch polls the watch's status query until cond holds.
func (r *rig) waitWatch(id, run, what string, cond func(workflows.WatchStatus) bool) workflows.WatchStatus {
	r.t.Helper()
	var ws workflows.WatchStatus
	eventually(r.t, what, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := r.rc.Temporal.QueryWorkflow(ctx, id, run, workflows.QueryStatus)
		return err == nil && v.Get(&ws) == nil && cond(ws)
	})
	return ws
}

// TestE2EWatchActsOnlyOnItsRelease: while a newer release runs in the
// environment (held at a gate, its own watch not started), the older
// release's failing watch does not touch it: the failure is audited as a
// notice naming both, and the running release goes on.
func TestE2EWatchActsOnlyOnItsRelease(t *testing.T) {
	t.Parallel()
	r := newRig(t, "watchnewer")
	key := newSecret(t)
	shop := newJourneyShop(t, key, false)
	r.env = withoutVar(r.env, tokenVar)
	watchWorker(t, r, tokenVar+"="+key)
	path, digest := r.writeRunbook("runbook.yaml", watchRunbook, shop.srv.URL)
	gated := strings.Replace(watchRunbook, "    rollback-profile: {no-gate: true}\n",
		"    rollback-profile: {no-gate: true}\n    approvals:\n      - {name: hold, approvers: [bob], timeout: 1h}\n", 1)
	gatedPath, _ := r.writeRunbook("gated.yaml", gated, shop.srv.URL)
	watchID := workflows.WatchID(r.service, "staging")

	id := r.deploy(path, digest, "1.0.0", "alice")
	assertSucceeded(t, r.waitFor(id, "1.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() }), "staging")
	run := r.currentRun(watchID, nil)
	newer := r.deploy(gatedPath, digest, "2.0.0", "alice")
	r.waitFor(newer, "2.0.0 waits at its gate", func(st workflows.ReleaseStatus) bool {
		return env(t, st, "staging").CurrentStep == "hold"
	})

	shop.mu.Lock()
	shop.unpaid = true
	shop.mu.Unlock()
	ws := r.waitWatch(watchID, run, "1.0.0's watch noticed the failure", func(ws workflows.WatchStatus) bool {
		return ws.Failures > 0 && ws.Journeys[0].Action != ""
	})
	if ws.State != workflows.WatchRunning || ws.Journeys[0].Action != "notify" {
		t.Errorf("watch status %+v, want still watching after a notice", ws)
	}
	if st := r.status(newer); st.Finished() || env(t, st, "staging").CurrentStep != "hold" {
		t.Errorf("2.0.0 is %s (%s), want still waiting at its gate", st.State, st.Reason)
	}
	entries, err := audit.Read(r.auditLog, audit.Filter{Release: newer})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(entries, func(e audit.Entry) bool {
		return e.Action == "alert.notify" && e.Channel == alerts.ChannelWatch && strings.Contains(e.Detail, "the watch is of "+id)
	}) {
		t.Errorf("no alert.notify on the watch channel naming %s in %+v", id, entries)
	}
	r.mustCLI("abort", newer, "--as", "alice", "--reason", "test over")
}
