package test

// Alerts end to end: a real Prometheus scrapes the edge proxy and evaluates
// a rule on its 5xx ratio, a real Alertmanager sends the alert to a real
// `runbook worker` (RUNBOOK_ALERTS_FILE) on POST /hooks/alertmanager with a
// bearer token, and the worker rolls back the release that finished there
// within watch-after: the one-command rollback, started by the alert,
// audited with its fingerprint and links, and counted by DORA from when the
// alert fired.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/alerts"
	"github.com/runbookhq/runbook/internal/testenv/alertmgr"
	"github.com/runbookhq/runbook/internal/testenv/prom"
	"github.com/runbookhq/runbook/workflows"
)

// alertsToken is outside RUNBOOK_ENV_ALLOW, as the alerts file requires.
const alertsToken = "e2e-alertmanager-token-0123456789"

// alertRules fires HighErrorRate when over 10% of the edge's answers in the
// last 2 s were 5xx, labelled with the service and environment.
const alertRules = `groups:
  - name: e2e
    rules:
      - alert: HighErrorRate
        expr: sum(rate(edge_requests_total{code_class="5xx"}[2s])) / sum(rate(edge_requests_total[2s])) > 0.1
        labels: {service: %s, env: production, severity: critical}
        annotations: {summary: "5xx above 10%% at the edge"}
`

// alertsWorker replaces s's worker (when s is set) with one serving the
// alerts endpoint on a free port, signing with the keyring's alerts key,
// which every e2e worker trusts as runbook:alerts and runbook:breaker. It
// returns the endpoint's URL.
func alertsWorker(t *testing.T, r *rig, s *slotted, breaker string) string {
	t.Helper()
	file := filepath.Join(r.dir, "alerts.yaml")
	text := "auth: {bearer: env:ALERTS_E2E_TOKEN}\nsigning-key: " + theKeyring(t).alertsKey + "\n" + breaker
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	var extra []string
	if s != nil {
		s.worker.stop()
		extra = slices.Clone(s.workerEnv)
	}
	r.startWorker(append(extra, "RUNBOOK_HTTP_ADDR="+addr, "RUNBOOK_ALERTS_FILE="+file, "ALERTS_E2E_TOKEN="+alertsToken)...)
	eventually(t, "worker serves /healthz", func() bool { ok, _ := healthy("http://" + addr)(context.Background()); return ok })
	return "http://" + addr + alerts.Path
}

var alertFiredRe = regexp.MustCompile(`\[alert fired (\S+)\]`)

func TestE2EAlertRollsBackTheRelease(t *testing.T) {
	t.Parallel()
	r := newRig(t, "alerts")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{50, 100}, bake: 2 * time.Second,
		envExtra: "\n    watch-after: 1h\n    on-alert: {default: notify, critical: rollback, warning: pause}\n    rollback-profile: {no-gate: true}"})
	hook := alertsWorker(t, r, s, "")
	am := alertmgr.Start(t, alertmgr.Receiver{URL: hook, Bearer: alertsToken})
	u, _ := url.Parse(s.admin)
	promSrv := prom.StartWith(t, prom.Options{Targets: []string{u.Host}, Rules: fmt.Sprintf(alertRules, r.service), Alertmanagers: []string{am.Addr}})
	promSrv.WaitForData(t, `edge_requests_total`, time.Minute)
	s.startLoad(t)
	since := time.Now()
	var live string
	for _, v := range []string{"1.0.0", "2.0.0"} {
		st := s.release(v)
		if st.State != workflows.StateSucceeded {
			t.Fatalf("release %s: %s (%s)", v, st.State, st.Reason)
		}
		live = env(t, st, "production").Traffic.Target
	}

	// 2.0.0 starts failing after it finished: only the alert can see it.
	faultAt := time.Now()
	s.fault(live, 0.5)
	id := workflows.RollbackID(r.service, "production", 1)
	st := r.waitFor(id, "the alert's rollback finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	took := time.Since(faultAt)
	if st.State != workflows.StateSucceeded || st.Version != "1.0.0" || st.Rollback == nil || st.Rollback.Of != workflows.ReleaseID(r.service, "2.0.0") {
		t.Fatalf("rollback %s: %s %s (%s), rollback %+v; want 1.0.0 back, of 2.0.0", id, st.State, st.Version, st.Reason, st.Rollback)
	}
	tr := st.Trigger
	// Prometheus and Alertmanager name themselves by the host's name.
	pu, _ := url.Parse(promSrv.URL)
	generator := ":" + pu.Port() + "/graph?g0.expr="
	if tr == nil || tr.Kind != "alert" || tr.ID == "" || st.Requester != alerts.Actor ||
		!strings.Contains(tr.Detail, "alert HighErrorRate") || !strings.Contains(tr.Detail, generator) || !strings.Contains(tr.Source, "alertmanager http") {
		t.Fatalf("the rollback does not name the alert: requester %q trigger %+v", st.Requester, tr)
	}
	t.Logf("fault → alert → rollback finished: %s (rollback workflow %s)", took.Round(time.Millisecond), st.EndedAt.Sub(st.StartedAt).Round(time.Millisecond))
	after := s.load.Snapshot()
	eventually(t, "load answered only by 1.0.0", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 50 && d.ByVersion["1.0.0"] == d.Requests
	})

	// Audited with the fingerprint and both links.
	entries, err := audit.Read(r.auditLog, audit.Filter{Release: workflows.ReleaseID(r.service, "2.0.0")})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(entries, func(e audit.Entry) bool { return e.Action == "alert.rollback" })
	if i < 0 {
		t.Fatalf("no alert.rollback entry for 2.0.0 in %+v", entries)
	}
	if e := entries[i]; e.Actor != alerts.Actor || !strings.Contains(e.Detail, "fingerprint "+tr.ID) || !strings.Contains(e.Detail, generator) ||
		!strings.Contains(e.Detail, "alertmanager http") || !strings.Contains(e.Detail, "started "+id) {
		t.Errorf("alert.rollback entry %+v lacks the fingerprint, the links or the rollback", e)
	}

	// The errors stop once 1.0.0 answers again: the resolved alert is audited.
	eventually(t, "the resolved alert audited", func() bool {
		all, err := audit.Read(r.auditLog, audit.Filter{})
		return err == nil && slices.ContainsFunc(all, func(e audit.Entry) bool {
			return e.Action == "alert.resolved" && e.Outcome == alerts.StatusResolved && strings.Contains(e.Detail, "fingerprint "+tr.ID)
		})
	})

	// DORA: 2.0.0 is a failed change restored from when the alert fired.
	d, err := r.rc.DORA(context.Background(), r.service, "production", since, time.Now().Add(time.Minute))
	if err != nil || d.Deployments != 1 || d.Failures != 1 || d.Restores != 1 || d.TimeToRestore <= st.EndedAt.Sub(st.StartedAt) {
		t.Errorf("DORA %+v (%v); want 1 deployment, 1 failure restored in more than the rollback's own %s", d, err, st.EndedAt.Sub(st.StartedAt))
	}

	// Alertmanager's repeat of the same firing acts no second time; a
	// wrong token is refused.
	m := alertFiredRe.FindStringSubmatch(tr.Detail)
	if m == nil {
		t.Fatalf("trigger detail %q has no firing time", tr.Detail)
	}
	repeat := fmt.Sprintf(`{"version":"4","status":"firing","externalURL":"%s","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate","service":%q,"env":"production","severity":"critical"},"startsAt":%q,"fingerprint":%q}]}`,
		am.URL, r.service, m[1], tr.ID)
	if code, body := postAlert(t, hook, "Bearer "+alertsToken, repeat); code != http.StatusOK || !strings.Contains(body, "duplicate") {
		t.Errorf("the repeat answered %d %q, want 200 duplicate", code, body)
	}
	if code, _ := postAlert(t, hook, "Bearer wrong", repeat); code != http.StatusUnauthorized {
		t.Errorf("a wrong token answered %d, want 401", code)
	}
	if n := r.countRollbacks(); n != 1 {
		t.Errorf("%d rollbacks of %s, want 1", n, r.service)
	}
}

// countRollbacks counts the rig's service's rollback releases.
func (r *rig) countRollbacks() int {
	n := 0
	for i := 1; i < 5; i++ {
		if _, err := r.rc.Temporal.DescribeWorkflow(context.Background(), workflows.RollbackID(r.service, "production", i), ""); err == nil {
			n++
		}
	}
	return n
}

func postAlert(t *testing.T, u, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
