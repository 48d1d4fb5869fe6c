package test

// Two workers on one task queue, one killed: the team set-up, where a
// release's activities land on whichever worker polls first and a host can
// die in the middle of a side effect. Each worker is its own "host": its own
// state directory and host queue (saved plans stay on it), with the audit
// log and OpenTofu's state in PostgreSQL, which both reach. The test kills
// (SIGKILL) the worker holding the activity, found from the pending
// activity's worker identity, while OpenTofu applies, while a migration
// runs, and while a canary bakes; the other worker finishes the release and
// nothing is done twice.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

// failoverDeadline bounds a release that loses a worker: the dead worker's
// activity times out on its heartbeat, and a saved plan on the dead host is
// given up after the apply's pickup timeout (a minute) and planned again.
const failoverDeadline = 4 * time.Minute

// host is one worker with a host's own disk.
type host struct {
	name string
	dir  string // its RUNBOOK_STATE_DIR
	w    *workerProc
}

// twoHosts starts two workers on the rig's task queue, each with its own
// state directory and host queue; env is added to both.
func twoHosts(r *rig, env ...string) []*host {
	var hosts []*host
	for _, name := range []string{"host-a", "host-b"} {
		h := &host{name: name, dir: filepath.Join(r.dir, name)}
		h.w = r.startWorker(append(slices.Clone(env),
			"RUNBOOK_STATE_DIR="+h.dir, "RUNBOOK_HOST_QUEUE="+r.queue+"@"+name)...)
		hosts = append(hosts, h)
	}
	return hosts
}

// holder waits until an activity of type activityType of the workflow is
// running on a worker and returns that worker's host: the SDK's worker
// identity starts with the worker's pid.
func holder(t *testing.T, hosts []*host, workflowID, activityType string) *host {
	t.Helper()
	var found *host
	var last string
	eventually(t, activityType+" running on a worker", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := stack.client.DescribeWorkflow(ctx, workflowID, "")
		if err != nil {
			last = err.Error()
			return false
		}
		for _, pa := range d.RawResponse.GetPendingActivities() {
			last = fmt.Sprintf("%s %s by %q", pa.GetActivityType().GetName(), pa.GetState(), pa.GetLastWorkerIdentity())
			if pa.GetActivityType().GetName() != activityType || pa.GetState() != enumspb.PENDING_ACTIVITY_STATE_STARTED {
				continue
			}
			pid, _ := strconv.Atoi(strings.SplitN(pa.GetLastWorkerIdentity(), "@", 2)[0])
			for _, h := range hosts {
				if h.w.cmd.Process.Pid == pid {
					found = h
					return true
				}
			}
		}
		return false
	})
	t.Logf("%s of %s runs on %s (%s)", activityType, workflowID, found.name, last)
	return found
}

// waitHeartbeat waits until the running activity of type activityType has
// told the server, in a heartbeat, something that contains want.
func waitHeartbeat(t *testing.T, workflowID, activityType, want string) {
	t.Helper()
	eventually(t, activityType+" heartbeat with "+want, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := stack.client.DescribeWorkflow(ctx, workflowID, "")
		if err != nil {
			return false
		}
		for _, pa := range d.RawResponse.GetPendingActivities() {
			if pa.GetActivityType().GetName() != activityType {
				continue
			}
			for _, pl := range pa.GetHeartbeatDetails().GetPayloads() {
				if strings.Contains(string(pl.GetData()), want) {
					return true
				}
			}
		}
		return false
	})
}

// killHolder kills the worker holding the activity with SIGKILL and returns
// the host that is left.
func killHolder(t *testing.T, hosts []*host, workflowID, activityType string) (killed, alive *host) {
	t.Helper()
	killed = holder(t, hosts, workflowID, activityType)
	killed.w.kill(t)
	for _, h := range hosts {
		if h != killed {
			alive = h
		}
	}
	return killed, alive
}

// waitFinished waits up to failoverDeadline for the release to finish.
func (r *rig) waitFinished(id string) workflows.ReleaseStatus {
	r.t.Helper()
	return r.waitForWithin(id, id+" finished", failoverDeadline, func(s workflows.ReleaseStatus) bool { return s.Finished() })
}

// waitForWithin is waitFor with its own deadline, for waits that include a
// dead worker's timeouts.
func (r *rig) waitForWithin(id, what string, within time.Duration, cond func(workflows.ReleaseStatus) bool) workflows.ReleaseStatus {
	r.t.Helper()
	var st workflows.ReleaseStatus
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := r.rc.Status(ctx, id)
		cancel()
		if err == nil && cond(s) {
			r.t.Logf("%s (%s)", what, time.Since(start).Round(time.Millisecond))
			return s
		}
		if err == nil {
			st = s
		}
		if time.Since(start) > within {
			b, _ := json.MarshalIndent(st, "", "  ")
			r.t.Fatalf("%s: not reached after %s; last status:\n%s\n%s", what, within, b, r.historySummary(st))
		}
		time.Sleep(pollInterval)
	}
}

// auditOnce checks that every step succeeded exactly once in the audit log
// both workers write to.
func auditOnce(t *testing.T, r *rig, id string, steps ...string) []map[string]any {
	t.Helper()
	recs := r.auditRecords(id)
	for _, s := range steps {
		n := 0
		for _, e := range recs {
			if e["action"] == "step.succeeded" && e["step"] == s {
				n++
			}
		}
		if n != 1 {
			t.Errorf("audit log has %d step.succeeded records for %s, want 1", n, s)
		}
	}
	if res := r.cli("audit", "verify"); res.code != 0 || !strings.Contains(res.stdout, "chain intact") {
		t.Errorf("audit verify after the kill: %s", res)
	}
	return recs
}

// TestTwoWorkersOneKilled: see the top of the file.
func TestTwoWorkersOneKilled(t *testing.T) {
	t.Parallel()
	p := pg.StartForTest(t)
	t.Run("during apply", func(t *testing.T) { t.Parallel(); killDuringApply(t, p) })
	t.Run("during migration", func(t *testing.T) { t.Parallel(); killDuringMigration(t, p) })
	t.Run("during bake", func(t *testing.T) { t.Parallel(); killDuringBake(t, p) })
}

// twoHostRig is a rig whose audit log is a database on p, as in the team
// set-up, so both hosts append to one chain.
func twoHostRig(t *testing.T, p *pg.Server, name string) *rig {
	r := newRig(t, name)
	r.env = append(r.env, "RUNBOOK_AUDIT_DSN="+newDatabase(t, p, "audit"), "RUNBOOK_AUDIT_DSN_ALLOW_OWNER=1")
	return r
}

// newDatabase creates a database for the test on p and returns its URL.
func newDatabase(t *testing.T, p *pg.Server, what string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := p.CreateDatabase(ctx, pg.DatabaseName(t.Name()+"_"+what))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
