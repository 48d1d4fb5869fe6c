package test

import (
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// wavesRunbook: staging, then a wave of three production regions, two at a
// time, stopping at the first failure. Each region waits at a gate, so the
// test sees which run at once.
const wavesRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
waves:
  prod: {max-parallel: 2, on-failure: stop}
environments:
  - name: staging
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/staging/healthz", interval: 250ms}}
{{- range .X.Regions}}
  - name: prod-{{.}}
    wave: prod
    approvals: [{name: cab, approvers: [bob], timeout: 1h}]
    steps:
      - {name: smoke, http-check: {url: "{{$.X.URL}}/prod-{{.}}/healthz", interval: 250ms, deadline: 2s}}
{{- end}}
`

// TestWaveRunsRegionsInParallel: the prod wave runs two regions at once
// (both wait at their gates together) and the third only when one is done;
// a second release whose us region fails stops the wave there: ap never
// starts, eu finishes, and the release fails naming us.
func TestWaveRunsRegionsInParallel(t *testing.T) {
	t.Parallel()
	r := newRig(t, "waves")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", wavesRunbook, map[string]any{"URL": rec.srv.URL, "Regions": []string{"eu", "us", "ap"}})

	id := r.deploy(path, digest, "1.0.0", "alice")
	st := r.waitFor(id, "eu and us both at their gates", func(st workflows.ReleaseStatus) bool {
		return gateWaiting("prod-eu", "cab")(st) && gateWaiting("prod-us", "cab")(st)
	})
	if ap := env(t, st, "prod-ap"); ap.State != workflows.StatePending {
		t.Fatalf("prod-ap is %s while two regions run, want pending (max-parallel 2)", ap.State)
	}
	r.mustCLI("approve", id+"@prod-eu", "--gate", "cab", "--as", "bob")
	st = r.waitFor(id, "ap at its gate once eu is done", gateWaiting("prod-ap", "cab"))
	if eu := env(t, st, "prod-eu"); eu.State != workflows.StateSucceeded {
		t.Errorf("prod-eu is %s when prod-ap started, want succeeded", eu.State)
	}
	r.mustCLI("approve", id+"@prod-us", "--gate", "cab", "--as", "bob")
	r.mustCLI("approve", id+"@prod-ap", "--gate", "cab", "--as", "bob")
	st = r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release 1.0.0 is %s (%s), want succeeded", st.State, st.Reason)
	}

	rec.mu.Lock()
	rec.failing = "/prod-us"
	rec.mu.Unlock()
	id = r.deploy(path, digest, "2.0.0", "alice")
	r.waitFor(id, "eu and us at their gates", func(st workflows.ReleaseStatus) bool {
		return gateWaiting("prod-eu", "cab")(st) && gateWaiting("prod-us", "cab")(st)
	})
	r.mustCLI("approve", id+"@prod-us", "--gate", "cab", "--as", "bob")
	r.waitFor(id, "us failed", func(st workflows.ReleaseStatus) bool {
		e := env(t, st, "prod-us")
		return e.State == workflows.StateRolledBack || e.State == workflows.StateFailed
	})
	r.mustCLI("approve", id+"@prod-eu", "--gate", "cab", "--as", "bob")
	st = r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State == workflows.StateSucceeded || env(t, st, "prod-eu").State != workflows.StateSucceeded || env(t, st, "prod-ap").State != workflows.StateNotReached {
		t.Fatalf("release 2.0.0: %s (%s), eu %s, ap %s; want it failed on us, eu succeeded, ap not reached",
			st.State, st.Reason, env(t, st, "prod-eu").State, env(t, st, "prod-ap").State)
	}
	if len(rec.requests("/prod-ap")) != 1 {
		t.Errorf("prod-ap was checked %d times over both releases, want once (by 1.0.0 only)", len(rec.requests("/prod-ap")))
	}
	t.Logf("2.0.0: %s: %s", st.State, st.Reason)

	// An abort without @ENV reaches every environment the wave runs.
	rec.mu.Lock()
	rec.failing = ""
	rec.mu.Unlock()
	id3 := r.deploy(path, digest, "3.0.0", "alice")
	r.waitFor(id3, "eu and us at their gates", func(st workflows.ReleaseStatus) bool {
		return gateWaiting("prod-eu", "cab")(st) && gateWaiting("prod-us", "cab")(st)
	})
	r.mustCLI("abort", id3, "--as", "bob", "--reason", "wrong build")
	st3 := r.waitFor(id3, id3+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	for _, e := range []string{"prod-eu", "prod-us"} {
		if s := env(t, st3, e).State; s != workflows.StateRolledBack && s != workflows.StateAborted {
			t.Errorf("%s is %s after the release's abort, want aborted (rolled back)", e, s)
		}
	}
	if s := env(t, st3, "prod-ap").State; s != workflows.StateNotReached {
		t.Errorf("prod-ap is %s after the abort, want not-reached", s)
	}
	// Children started side by side are commands only waves emit.
	exportHistory(t, stack.client, id, "", "release-wave-stopped")
}
