package test

// Aborts in the middle of each kind of step, through `runbook abort`: at a
// gate, while an http-check retries, while OpenTofu applies, while a
// migration runs and while a failed migration waits for a decision. Each
// release must end, interrupted, never as succeeded; the histories are
// captured as replay fixtures (-update-histories) so releases aborted on
// today's code keep replaying when the rollback changes.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/workflows"
)

// abortRunbook: a step with an on-rollback hook, a gate, then a check that
// keeps failing (the recorder answers 503 under /failing).
const abortRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: announce
        http-check:
          url: {{.X}}/announce
          interval: 250ms
        on-rollback:
          url: {{.X}}/unannounce
      - name: go
        approval:
          approvers: [bob]
      - name: check
        http-check:
          url: {{.X}}/failing
          interval: 250ms
`

// blockingInfraRunbook provisions test/testdata/infra/blocking, whose apply
// waits for the test.
const blockingInfraRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    infra:
      module: {{.X.Module}}
      vars:
        app_version: ${version}
        signal_dir: {{.X.Dir}}
    steps:
      - name: provision
        provision: {}
`

// abortAndWait aborts the release as alice and waits until it finished.
func (r *rig) abortAndWait(id string) workflows.ReleaseStatus {
	r.t.Helper()
	r.mustCLI("abort", id, "--as", "alice", "--reason", "stop it")
	return r.waitAborted(id)
}

// waitAborted waits until an aborted release finished; it must say it was
// aborted, and must not have succeeded.
func (r *rig) waitAborted(id string) workflows.ReleaseStatus {
	r.t.Helper()
	st := r.waitFor(id, "release finished after the abort", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State == workflows.StateSucceeded || !strings.Contains(st.Reason, "aborted by alice") {
		r.t.Fatalf("release %s after the abort: %s (%s); want it ended by the abort", id, st.State, st.Reason)
	}
	for _, e := range st.Environments {
		r.t.Logf("%s: %s (%s); compensations %+v", e.Name, e.State, e.Reason, e.Compensations)
	}
	return st
}

// assertStepInterrupted checks that the abort interrupted step: it says
// so, and is interrupted, or compensated once its compensation ran.
func assertStepInterrupted(t *testing.T, st workflows.ReleaseStatus, envName, stepName string) {
	t.Helper()
	s := step(t, env(t, st, envName), stepName)
	if (s.State != workflows.StateInterrupted && s.State != workflows.StateCompensated) || !strings.Contains(s.Error, "aborted by alice") {
		t.Errorf("%s/%s is %s (%q) after the abort, want interrupted (or compensated) by alice's abort", envName, stepName, s.State, s.Error)
	}
}

// TestAbortAtGateAndDuringCheck: an abort at a waiting gate, and one while
// an http-check keeps retrying, both roll back what ran before (the
// announce step's on-rollback hook, once) and leave the rest not reached.
func TestAbortAtGateAndDuringCheck(t *testing.T) {
	t.Parallel()
	t.Run("at a gate", func(t *testing.T) {
		t.Parallel()
		r, rec, path, digest := abortRig(t, "abort-gate")
		id := r.deploy(path, digest, "1.0.0", requester)
		r.waitFor(id, "gate go waiting", gateWaiting("staging", "go"))
		st := r.abortAndWait(id)
		assertAbortRolledBack(t, st, rec, "go")
		if got := step(t, env(t, st, "staging"), "check").State; got != workflows.StateNotReached {
			t.Errorf("staging/check is %s, want not-reached", got)
		}
		r.exportRelease(t, st, "staging", "abort-at-gate")
	})
	t.Run("during an http-check", func(t *testing.T) {
		t.Parallel()
		r, rec, path, digest := abortRig(t, "abort-check")
		id := r.deploy(path, digest, "1.0.0", requester)
		r.waitFor(id, "gate go waiting", gateWaiting("staging", "go"))
		r.mustCLI("approve", id, "--as", "bob")
		eventually(t, "the check retried", func() bool { return len(rec.requests("/failing")) >= 2 })
		st := r.abortAndWait(id)
		assertAbortRolledBack(t, st, rec, "check")
		r.exportRelease(t, st, "staging", "abort-http-check")
	})
}

// abortRig is a rig with a worker and abortRunbook written.
func abortRig(t *testing.T, name string) (*rig, *recorder, string, string) {
	r := newRig(t, name)
	rec := newRecorder(t)
	rec.failing = "/failing"
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", abortRunbook, rec.srv.URL)
	return r, rec, path, digest
}

// assertAbortRolledBack: rolled back, the interrupted step named, the
// announce hook called once.
func assertAbortRolledBack(t *testing.T, st workflows.ReleaseStatus, rec *recorder, interrupted string) {
	t.Helper()
	if st.State != workflows.StateRolledBack {
		t.Errorf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	assertStepInterrupted(t, st, "staging", interrupted)
	if got := rec.requests("/unannounce"); len(got) != 1 {
		t.Errorf("the announce step's on-rollback hook was called %d times, want once", len(got))
	}
	if got := step(t, env(t, st, "staging"), "announce").State; got != workflows.StateCompensated {
		t.Errorf("staging/announce is %s, want compensated", got)
	}
}

// TestAbortDuringProvisionApply: an abort while OpenTofu applies (the
// module's provisioner waits for the test) interrupts the provision step;
// the apply is then let finish.
func TestAbortDuringProvisionApply(t *testing.T) {
	t.Parallel()
	r := newRig(t, "abort-apply")
	signals := t.TempDir()
	r.startWorker(terraform.BinEnv + "=" + tofuBin(t))
	path, digest := r.writeRunbook("runbook.yaml", blockingInfraRunbook, map[string]any{
		"Module": filepath.Join(repoRoot(t), "test", "testdata", "infra", "blocking"), "Dir": signals,
	})
	proceed := filepath.Join(signals, "proceed")
	t.Cleanup(func() { _ = os.WriteFile(proceed, nil, 0o644) }) // never leave an apply waiting

	id := r.deploy(path, digest, "1.0.0", requester)
	eventually(t, "OpenTofu applying", func() bool {
		_, err := os.Stat(filepath.Join(signals, "applying-1.0.0"))
		return err == nil
	})
	r.mustCLI("abort", id, "--as", "alice", "--reason", "stop it")
	if err := os.WriteFile(proceed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st := r.waitAborted(id)
	assertStepInterrupted(t, st, "staging", "provision")
	// The compensation waited for OpenTofu to stop, so it met no state
	// lock, and it read the state back empty (a first release: destroy).
	if st.State != workflows.StateRolledBack {
		t.Errorf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	c := compensation(t, env(t, st, "staging"), "provision")
	if c.State != workflows.StateDone || c.ReadBack != "state holds no resources" {
		t.Errorf("provision compensation %s, read back %q (error %q); want done, state holds no resources", c.State, c.ReadBack, c.Error)
	}
	r.exportRelease(t, st, "staging", "abort-provision-apply-truthful")
}

// testAbortWhileMigrating: an abort while migration 002 runs (it waits for
// an advisory lock the test holds) interrupts the migrate step; the lock is
// then let go, so the migration ends.
func testAbortWhileMigrating(t *testing.T, pgs *pgServer) {
	db := pgs.database(t)
	lock := holdAdvisoryLock(t, db, 7411) // the lock of blocking/002_add_note.up.sql
	r, _, path, digest := migrateRig(t, "mig-abort", db, copyMigrations(t, "blocking"), expandOnly)
	id := r.deploy(path, digest, "1.0.0", requester)
	eventually(t, "migration 002 running", func() bool { return lock.waiters(t) == 1 })
	r.mustCLI("abort", id, "--as", "alice", "--reason", "stop it")
	lock.release(t)
	st := r.waitAborted(id)
	v, dirty, rows := db.version(t)
	t.Logf("schema after the abort: version %d, dirty %t (%d version rows)", v, dirty, rows)
	assertStepInterrupted(t, st, "staging", "schema")
	// The compensation was registered before Up ran: it read what Up had
	// applied, migrated down to the empty schema the release found, and
	// says so only because PostgreSQL says so.
	if st.State != workflows.StateRolledBack {
		t.Errorf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	c := compensation(t, env(t, st, "staging"), "schema")
	if c.ReadBack != "schema empty" || c.State != workflows.StateDone {
		t.Errorf("schema compensation %s, read back %q (error %q); want done, schema empty", c.State, c.ReadBack, c.Error)
	}
	if rows != 0 || dirty {
		t.Errorf("PostgreSQL has schema version %d (dirty %t) after a rolled-back release that found it empty", v, dirty)
	}
	r.exportRelease(t, st, "staging", "abort-migration-running-truthful")
}

// testAbortAtDirtyMigration: an abort while a failed migration waits for a
// decision ends the release, but cannot claim the dirty schema undone: the
// release is not rolled-back and the schema's compensation is not done.
func testAbortAtDirtyMigration(t *testing.T, db testDB) {
	r, _, path, digest := migrateRig(t, "mig-dirty-abort", db, copyMigrations(t, "failing"), expandOnly)
	id := r.deploy(path, digest, "1.0.0", requester)
	r.waitFor(id, "schema step waits after the failed migration", func(s workflows.ReleaseStatus) bool {
		e, ok := s.Current()
		return ok && stepState(e, "schema") == workflows.StateWaiting
	})
	st := r.abortAndWait(id)
	if st.State != workflows.StateRollbackIncomplete {
		t.Errorf("release is %s (%s); with the schema left dirty it must say rollback-incomplete", st.State, st.Reason)
	}
	e := env(t, st, "staging")
	if c := compensation(t, e, "schema"); c.State != workflows.StateFailed {
		t.Errorf("the compensation of the dirty schema says %s, want failed: %+v", c.State, c)
	}
	if len(e.Leftovers) != 1 || e.Leftovers[0].Step != "schema" || !strings.Contains(e.Leftovers[0].Fix, "force") {
		t.Errorf("leftovers %+v, want the schema with how to force its version", e.Leftovers)
	}
	if _, dirty, _ := db.version(t); !dirty {
		t.Errorf("the database is not dirty, yet the release reports a dirty schema")
	}
	r.exportRelease(t, st, "staging", "abort-migration-dirty-truthful")
}

// stepState is the named step's state, "" when there is none.
func stepState(e workflows.EnvironmentStatus, name string) string {
	for _, s := range e.Steps {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}
