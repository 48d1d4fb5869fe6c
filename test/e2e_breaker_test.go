package test

// The circuit breaker end to end, on the real dev server and two real
// workers with the same breaker rule (RUNBOOK_ALERTS_FILE), both checking
// every second, as a team with two workers would run it: alerts abort two running
// releases of a service (the running release's own rollback, signed as
// runbook:alerts), the breaker declares one automatic freeze of the service
// with the evidence, a third release is held by it until a person lifts it,
// and only failures after the lift can trip it again. Two breakers that trip
// on the same failures declare one freeze (CreateInput.Once).

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/alerts"
	"github.com/runbookhq/runbook/workflows"
)

// breakerRunbook's smoke step keeps checking a port nothing listens on, so
// a release runs until something stops it.
const breakerRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    on-alert: {critical: rollback, warning: pause}
    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:1/healthz
          interval: 250ms
          timeout: 1s
          deadline: 10m
`

func TestE2EBreakerTripsAndIsLifted(t *testing.T) {
	t.Parallel()
	r := newRig(t, "breaker")
	r.inNamespace(breakerNamespace)
	path, digest := r.writeRunbook("runbook.yaml", breakerRunbook, nil)
	breaker := fmt.Sprintf("breaker:\n  check-every: 1s\n  rules: [{scope: service, service: %s, failures: 2, within: 1h}]\n", r.service)
	hook := alertsWorker(t, r, nil, breaker)
	alertsWorker(t, r, nil, breaker) // a second worker, its breaker racing the first's
	since := time.Now()

	smokeRunning := func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.CurrentStep == "smoke" && e.State == workflows.StateRunning
	}
	// abortByAlert posts a firing alert while v runs and waits for the abort.
	fire := func(v, fingerprint, severity, want string) string {
		id := workflows.ReleaseID(r.service, v)
		r.waitFor(id, v+" runs its smoke step", smokeRunning)
		msg := fmt.Sprintf(`{"version":"4","status":"firing","externalURL":"http://am.test:9093","alerts":[{"status":"firing","labels":{"alertname":"Down","service":%q,"env":"production","severity":%q},"startsAt":%q,"generatorURL":"http://prom.test/graph","fingerprint":%q}]}`,
			r.service, severity, time.Now().UTC().Format(time.RFC3339Nano), fingerprint)
		if code, body := postAlert(t, hook, "Bearer "+alertsToken, msg); code != http.StatusOK || !strings.Contains(body, ": "+want+": ") {
			t.Fatalf("%s alert on %s answered %d %q, want 200 %s", severity, v, code, body, want)
		}
		return id
	}
	abortByAlert := func(v, fingerprint string) workflows.ReleaseStatus {
		id := fire(v, fingerprint, "critical", "abort")
		st := r.waitFor(id, v+" aborted by the alert", func(st workflows.ReleaseStatus) bool { return st.Finished() })
		// The abort runs the release's own compensation: rolled back.
		if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "http://am.test:9093") || !strings.Contains(st.Reason, "aborted by "+alerts.Actor) || !strings.Contains(st.Reason, "fingerprint "+fingerprint) {
			t.Fatalf("%s: %s (%s), want rolled back, aborted by %s naming the alert and its links", id, st.State, st.Reason, alerts.Actor)
		}
		return st
	}
	breakerFreezes := func() []freezes.Freeze {
		var out []freezes.Freeze
		for _, f := range r.listFreezes() {
			if f.CreatedBy == alerts.BreakerActor && slices.Equal(f.Services, []string{r.service}) {
				out = append(out, f)
			}
		}
		return out
	}

	for i, v := range []string{"1.0.0", "2.0.0"} {
		r.deploy(path, digest, v, "carol")
		abortByAlert(v, fmt.Sprintf("b%d%015x", i, time.Now().UnixNano()&0xffffffffffff))
	}
	var frz freezes.Freeze
	eventually(t, "the breaker declared a freeze of "+r.service, func() bool {
		fs := breakerFreezes()
		if len(fs) > 0 {
			frz = fs[0]
		}
		return len(fs) > 0
	})
	if !strings.HasPrefix(frz.Reason, "automatic: circuit breaker: 2 releases of "+r.service) ||
		!strings.Contains(frz.Reason, workflows.ReleaseID(r.service, "1.0.0")) || !strings.Contains(frz.Reason, workflows.ReleaseID(r.service, "2.0.0")) ||
		frz.CreatedIdentity == freezes.Unsigned || !frz.To.IsZero() {
		t.Fatalf("breaker freeze %+v; want an automatic, signed, open-ended freeze naming both releases", frz)
	}

	// The next release is held until a person lifts the freeze.
	id3 := r.deploy(path, digest, "3.0.0", "carol")
	r.waitFor(id3, "3.0.0 held by the breaker's freeze", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && strings.Contains(stepDetail(e, "smoke"), "held by freeze "+frz.ID)
	})
	if fs := breakerFreezes(); len(fs) != 1 {
		t.Fatalf("%d breaker freezes while one holds; want one per trip: %+v", len(fs), fs)
	}
	r.mustCLI("freeze", "lift", frz.ID, "--reason", "fixed the config; shipping again", "--as", "alice")

	// After the lift, one failure does not trip it; a second does, with
	// only the failures since the lift as evidence.
	abortByAlert("3.0.0", fmt.Sprintf("c3%015x", time.Now().UnixNano()&0xffffffffffff))
	r.deploy(path, digest, "4.0.0", "carol")
	if fs := breakerFreezes(); len(fs) != 1 || fs[0].LiftedBy != "alice" {
		t.Fatalf("after the lift and one failure: breaker freezes %+v; want only the lifted one", fs)
	}
	abortByAlert("4.0.0", fmt.Sprintf("c4%015x", time.Now().UnixNano()&0xffffffffffff))
	var again freezes.Freeze
	eventually(t, "the breaker tripped again", func() bool {
		for _, f := range breakerFreezes() {
			if f.ID != frz.ID {
				again = f
				return true
			}
		}
		return false
	})
	if !strings.Contains(again.Reason, workflows.ReleaseID(r.service, "3.0.0")) || !strings.Contains(again.Reason, workflows.ReleaseID(r.service, "4.0.0")) || strings.Contains(again.Reason, workflows.ReleaseID(r.service, "1.0.0")) {
		t.Errorf("second trip's reason %q; want 3.0.0 and 4.0.0 only", again.Reason)
	}
	r.mustCLI("freeze", "lift", again.ID, "--reason", "test done", "--as", "alice")

	// Each abort is audited with its alert; DORA counts each aborted
	// release as a failure restored when its compensation ended.
	entries, err := audit.Read(r.auditLog, audit.Filter{Release: workflows.ReleaseID(r.service, "1.0.0")})
	if err != nil || !slices.ContainsFunc(entries, func(e audit.Entry) bool {
		return e.Action == "alert.abort" && strings.Contains(e.Detail, "http://prom.test/graph") && strings.Contains(e.Detail, "http://am.test:9093")
	}) {
		t.Errorf("no alert.abort audit entry with the links for 1.0.0 (%v): %+v", err, entries)
	}
	d, err := r.rc.DORA(context.Background(), r.service, "production", since, time.Now().Add(time.Minute))
	if err != nil || d.Failures != 4 || d.Restores != 4 {
		t.Errorf("DORA %+v (%v); want 4 failures, each restored", d, err)
	}

	// A warning pauses the running release before its next step.
	r.deploy(path, digest, "5.0.0", "carol")
	id5 := fire("5.0.0", fmt.Sprintf("d5%015x", time.Now().UnixNano()&0xffffffffffff), "warning", "pause")
	r.waitFor(id5, "5.0.0 paused by the alert", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Paused && e.PausedBy == alerts.Actor
	})
	r.mustCLI("abort", id5, "--as", "alice", "--reason", "test done")
	r.waitFor(id5, "5.0.0 finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
}
