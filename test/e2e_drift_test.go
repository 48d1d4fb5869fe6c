package test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// TestDriftCheck: after a release on infra/local, `runbook drift check`
// finds the environment in sync; once the app is killed outside any release
// it reports drift (exit 2) naming the resource a re-apply would replace,
// and both results land in the audit log. Then a schedule is enabled, shown
// and deleted.
func TestDriftCheck(t *testing.T) {
	t.Parallel()
	r := newRig(t, "drift")
	a := newInfraApp(t, r, "restore")
	a.releaseFirst("1.0.0")

	res := r.mustCLI("drift", "check", a.path, "--env", "staging", "--as", "dana")
	if !strings.Contains(res.stdout, workflows.StateInSync) {
		t.Errorf("drift check after the release: want in-sync, got %s", res)
	}

	// Kill the app outside any release; its supervisor removes the pid file.
	pid := a.pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	eventually(t, "pid file removed after kill -9", func() bool {
		_, err := os.Stat(a.pidFile())
		return errors.Is(err, os.ErrNotExist)
	})
	a.waitRefused()

	res = r.cli("drift", "check", a.path, "--env", "staging", "--as", "dana")
	if res.code != 2 || !strings.Contains(res.stdout, workflows.StateDrifted) || !strings.Contains(res.stdout, "terraform_data.app (replace)") {
		t.Fatalf("drift check after the app was killed: want exit 2 saying drifted with terraform_data.app (replace), got %s", res)
	}
	recs := r.auditRecords("")
	r.exportDrift(t, workflows.StateInSync, "drift-in-sync")
	r.exportDrift(t, workflows.StateDrifted, "drift-drifted")
	for _, state := range []string{workflows.StateInSync, workflows.StateDrifted} {
		e := auditOf(recs, "drift."+state, "")
		if e == nil || e["actor"] != "dana" || e["service"] != r.service || e["environment"] != "staging" {
			t.Errorf("audit record drift.%s: %v; want one by dana for %s staging", state, e, r.service)
		}
	}
	if e := auditOf(recs, "drift."+workflows.StateDrifted, ""); e != nil && !strings.Contains(e["detail"].(string), "terraform_data.app (replace)") {
		t.Errorf("drift.drifted detail %q, want the resource to replace", e["detail"])
	}

	// A schedule: enabled, described, deleted.
	r.mustCLI("drift", "enable", a.path, "--env", "staging", "--every", "1m")
	res = r.mustCLI("drift", "status", a.path, "--env", "staging")
	if !strings.Contains(res.stdout, "schedule "+workflows.DriftID(r.service, "staging")+": every 1m0s") {
		t.Errorf("drift status: want the schedule every 1m0s, got %s", res)
	}
	r.mustCLI("drift", "disable", a.path, "--env", "staging")
	if res := r.cli("drift", "status", a.path, "--env", "staging"); res.code == 0 {
		t.Errorf("drift status after disable: want an error (no schedule), got %s", res)
	}
}

// exportDrift captures the history of the first drift check the audit log
// records with state: the record names the check's workflow.
func (r *rig) exportDrift(t *testing.T, state, name string) {
	t.Helper()
	if !*updateHistories {
		return
	}
	e := auditOf(r.auditRecords(""), "drift."+state, "")
	id, _ := e["release"].(string)
	if !strings.HasPrefix(id, "drift/") {
		t.Fatalf("no audit record of a drift check that found %s: %v", state, e)
	}
	exportHistory(t, r.rc.Temporal, id, "", name)
}
