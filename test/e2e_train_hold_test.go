package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// trainHoldRunbook: two environments, neither production, so the
// namespace-wide production freezes of other tests cannot hold it.
const trainHoldRunbook = `api-version: runbook/v1
service: {{.X.Name}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: qa
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/{{.X.Name}}/qa/healthz", interval: 250ms}}
  - name: staging
    steps:
      - {name: smoke, http-check: {url: "{{.X.URL}}/{{.X.Name}}/staging/healthz", interval: 250ms}}
`

const trainHoldFile = `api-version: runbook/v1
train: %[1]s
environments: [qa, staging]
gates:
  staging:
    - {name: go, approvers: [bob], timeout: 1h}
services:
  - {name: %[1]s-a, runbook: a.yaml, version: "1.0.0", digest: "%[2]s"}
  - {name: %[1]s-b, runbook: b.yaml, version: "1.0.0", digest: "%[2]s", after: [%[1]s-a]}
`

// TestTrainHoldsForAFreezeOfOneServiceAndAborts: a freeze on one service
// holds the whole train out of qa (neither service starts there), lifting
// it lets both through in order; an abort at the staging train gate ends
// the train with staging untouched and says who and why.
func TestTrainHoldsForAFreezeOfOneServiceAndAborts(t *testing.T) {
	t.Parallel()
	r := newRig(t, "trainhold")
	r.inNamespace(freezeNamespace)
	rec := newRecorder(t)
	r.startWorker()
	var digest string
	for _, svc := range []string{"a", "b"} {
		_, digest = r.writeRunbook(svc+".yaml", trainHoldRunbook, map[string]any{"URL": rec.srv.URL, "Name": r.service + "-" + svc})
	}
	path := filepath.Join(r.dir, "train.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, trainHoldFile, r.service, digest), 0o644); err != nil {
		t.Fatal(err)
	}
	frz := r.createFreeze("--env", "qa", "--service", r.service+"-b", "--reason", "b's database migration")
	id := workflows.TrainID(r.service, "h1")
	r.mustCLI("train", "deploy", path, "--name", "h1", "--as", "alice")
	st := r.waitTrain(id, "the train held by b's freeze", func(st workflows.TrainStatus) bool {
		return strings.Contains(st.Environments[0].Hold, "held by freeze "+frz)
	})
	if c := mustCell(t, st, "qa", r.service+"-a"); c.State != workflows.StatePending {
		t.Errorf("a is %s in qa while b is frozen there, want pending: the train enters an environment whole", c.State)
	}
	if got := rec.requests("/" + r.service + "-a/qa"); len(got) != 0 {
		t.Fatalf("a was released into qa during b's freeze: %v", paths(got))
	}
	r.mustCLI("freeze", "lift", frz, "--reason", "migration done", "--as", "cab")
	st = r.waitTrain(id, "the staging train gate", trainGateWaiting("staging", "go"))
	assertTrainOrder(t, st, "qa", r.service+"-a", r.service+"-b")
	if st.Environments[0].Hold != "" {
		t.Errorf("qa still says held: %q", st.Environments[0].Hold)
	}

	if res := r.cli("train", "abort", id, "--as", "bob"); res.code == 0 || !strings.Contains(res.stderr, "needs --reason") {
		t.Errorf("abort without a reason: %s", res)
	}
	r.mustCLI("train", "abort", id, "--as", "bob", "--reason", "wrong week")
	st = r.waitTrain(id, "the aborted train finished", func(st workflows.TrainStatus) bool { return st.Finished() })
	if st.State != workflows.StateAborted || st.Abort == nil || st.Abort.Actor != "bob" || !strings.Contains(st.Reason, "wrong week") {
		t.Fatalf("train is %s (%s), abort %+v; want aborted by bob saying why", st.State, st.Reason, st.Abort)
	}
	for _, svc := range []string{"a", "b"} {
		if c := mustCell(t, st, "staging", r.service+"-"+svc); c.State != workflows.StateNotReached {
			t.Errorf("%s in staging is %s after the abort at the gate, want not-reached", svc, c.State)
		}
	}
	if got := rec.requests("/" + r.service + "-a/staging"); len(got) != 0 {
		t.Errorf("staging was touched after the abort: %v", paths(got))
	}
}
