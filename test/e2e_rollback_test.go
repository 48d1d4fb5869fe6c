package test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/workflows"
)

var startedRollback = regexp.MustCompile(`started (rollback/\S+):`)

// rollback runs `runbook rollback` to its end and returns the rollback's
// status and how long the command took.
func (s *slotted) rollback(t testing.TB, extra ...string) (workflows.ReleaseStatus, time.Duration) {
	t.Helper()
	args := append([]string{"rollback", s.r.service, "--env", "production", "--reason", "INC-7 checkout errors", "--as", "erin", "--wait"}, extra...)
	start := time.Now()
	res := s.r.cli(args...)
	took := time.Since(start)
	m := startedRollback.FindStringSubmatch(res.stdout)
	if res.code != 0 || m == nil {
		t.Fatalf("runbook %s: %s", strings.Join(args, " "), res)
	}
	st, err := s.r.rc.Status(context.Background(), m[1])
	if err != nil {
		t.Fatal(err)
	}
	return st, took
}

// TestRollbackFinishedRelease: two releases succeed; `runbook rollback`
// puts the first back. Its version still runs in the other slot, so only
// traffic moves (measured); the load is answered by it again. Then a
// third release lands in the slot the second had used, so rolling back to
// the second provisions it again. Both are releases of their own, named in
// status and audit, and DORA counts the rolled-back releases as failed
// changes restored by the rollbacks.
func TestRollbackFinishedRelease(t *testing.T) {
	t.Parallel()
	r := newRig(t, "rollback")
	s := newSlottedShape(t, r, edgeMetrics, canaryShape{weights: []int{50, 100}, bake: 2 * time.Second})
	s.startLoad(t)
	since := time.Now()
	for _, v := range []string{"1.0.0", "2.0.0"} {
		if st := s.release(v); st.State != workflows.StateSucceeded {
			t.Fatalf("release %s: %s (%s)", v, st.State, st.Reason)
		}
	}

	var plan struct{ Path, Why string }
	dry := r.mustCLI("rollback", r.service, "--env", "production", "--reason", "INC-7", "--dry-run", "-o", "json")
	if err := json.Unmarshal([]byte(dry.stdout), &plan); err != nil || plan.Path != workflows.RollbackTraffic {
		t.Fatalf("dry run: %+v (%v), want the traffic path: %s", plan, err, dry)
	}

	st, took := s.rollback(t)
	prod := env(t, st, "production")
	if st.State != workflows.StateSucceeded || st.Version != "1.0.0" || st.Rollback == nil || st.Rollback.Path != workflows.RollbackTraffic ||
		st.Rollback.Of != workflows.ReleaseID(r.service, "2.0.0") || st.Rollback.FromVersion != "2.0.0" {
		t.Fatalf("rollback %s: %s %s, rollback %+v; want 1.0.0 back by traffic, of 2.0.0", st.ReleaseID, st.State, st.Version, st.Rollback)
	}
	for _, step := range prod.Steps {
		if step.Name == "provision" {
			t.Errorf("the traffic path ran %s (%s): the version still ran in its slot", step.Name, step.State)
		}
	}
	if w := s.weights(); w[prod.Traffic.Target] != 100 {
		t.Errorf("after the rollback the proxy has %v, want all traffic on %s", w, prod.Traffic.Target)
	}
	after := s.load.Snapshot()
	eventually(t, "load answered only by 1.0.0", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 50 && d.ByVersion["1.0.0"] == d.Requests
	})
	t.Logf("traffic-path rollback of a finished release: %s from the command to the release's end (workflow %s)", took.Round(time.Millisecond), st.EndedAt.Sub(st.StartedAt).Round(time.Millisecond))

	// 3.0.0 lands in the slot 2.0.0 had; 2.0.0 must be provisioned again.
	if st := s.release("3.0.0"); st.State != workflows.StateSucceeded {
		t.Fatalf("release 3.0.0: %s (%s)", st.State, st.Reason)
	}
	st, took = s.rollback(t, "--to", "2.0.0")
	prod = env(t, st, "production")
	if st.State != workflows.StateSucceeded || st.Version != "2.0.0" || st.Rollback.Path != workflows.RollbackFull || step(t, prod, "provision").State != workflows.StateSucceeded {
		t.Fatalf("rollback to 2.0.0: %s %s, %+v, want the full path with provision", st.State, st.Version, st.Rollback)
	}
	after = s.load.Snapshot()
	eventually(t, "load answered only by 2.0.0", func() bool {
		d := s.load.Snapshot().Sub(after)
		return d.Requests > 50 && d.ByVersion["2.0.0"] == d.Requests
	})
	t.Logf("full-path rollback: %s", took.Round(time.Millisecond))

	entries, err := audit.Read(r.auditLog, audit.Filter{Release: st.ReleaseID})
	if err != nil || len(entries) == 0 || !strings.Contains(entries[0].Detail, "ROLLBACK of "+workflows.ReleaseID(r.service, "3.0.0")) {
		t.Errorf("audit of %s: %v %+v, want its start to name what it rolls back", st.ReleaseID, err, entries)
	}
	d, err := r.rc.DORA(context.Background(), r.service, "production", since, time.Now().Add(time.Minute))
	if err != nil || d.Deployments != 1 || d.Failures != 2 || d.Restores != 2 {
		t.Errorf("DORA %+v (%v), want 1 deployment, 2 failed changes (2.0.0 and 3.0.0) restored twice", d, err)
	}
}
