package test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/workflows"
)

// tokenVar is the worker's environment variable the runbook refers to.
const tokenVar = "RB_CHECK_TOKEN"

const secretRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    steps:
      - name: flag-on
        http-check:
          url: {{.X}}/open/flag-on
          method: POST
          interval: 250ms
        on-rollback:
          url: {{.X}}/open/flag-off
          method: POST
      - name: authorized
        http-check:
          url: {{.X}}/private/staging
          headers:
            Authorization: env:RB_CHECK_TOKEN
          interval: 250ms
          deadline: 20s
  - name: production
    steps:
      - name: authorized
        http-check:
          url: {{.X}}/private/production
          method: POST
          headers:
            Authorization: env:RB_CHECK_TOKEN
            X-Release: ${version}
          interval: 250ms
          deadline: 20s
`

// tokenServer answers /private/* with 200 only when the Authorization
// header is exactly the secret (401 otherwise) and /open/* always; it
// records what it saw, never the header's value.
type tokenServer struct {
	secret string
	mu     sync.Mutex
	ok     []string // paths answered 200 on /private
	denied []string // paths answered 401
	open   []string // paths under /open
	srv    *httptest.Server
}

func newTokenServer(t *testing.T, secret string) *tokenServer {
	s := &tokenServer{secret: secret}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if strings.HasPrefix(req.URL.Path, "/open/") {
			s.open = append(s.open, req.URL.Path)
			fmt.Fprintln(w, "ok")
			return
		}
		if got := req.Header.Values("Authorization"); len(got) != 1 || got[0] != s.secret {
			s.denied = append(s.denied, req.URL.Path)
			http.Error(w, "missing or wrong Authorization header", http.StatusUnauthorized)
			return
		}
		s.ok = append(s.ok, req.URL.Path)
		fmt.Fprintln(w, "authorized")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *tokenServer) seen() (ok, denied, open []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ok), slices.Clone(s.denied), slices.Clone(s.open)
}

// newSecret is 32 random hex digits, unique to the test run, so finding it
// anywhere can only mean it leaked from this test.
func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// withoutVar returns env without NAME=..., so a variable set in the test's
// own environment cannot reach a subprocess by accident.
func withoutVar(env []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}

// TestSecretHeaderNeverInHistory: a header written env:NAME is resolved on
// the worker. The release only succeeds if the worker sent the secret, and
// afterwards the secret is in no workflow history (payloads decoded), no
// worker output, no audit record and no CLI output.
func TestSecretHeaderNeverInHistory(t *testing.T) {
	t.Parallel()
	r := newRig(t, "secret")
	secret := newSecret(t)
	srv := newTokenServer(t, secret)
	r.env = withoutVar(r.env, tokenVar) // the CLI never has it
	w := r.startWorker(tokenVar + "=" + secret)
	path, digest := r.writeRunbook("runbook.yaml", secretRunbook, srv.srv.URL)
	if b, _ := os.ReadFile(path); strings.Contains(string(b), secret) {
		t.Fatal("the runbook itself contains the secret; the test would prove nothing")
	}

	id := r.deploy(path, digest, "1.0.0", "alice")
	watch := r.cli("watch", id)
	if watch.code != 0 {
		t.Fatalf("watch: %s", watch)
	}
	st := r.status(id)
	assertSucceeded(t, st, "staging", "production")

	// The server let the checks through only with the exact secret.
	ok, denied, open := srv.seen()
	if !slices.Equal(ok, []string{"/private/staging", "/private/production"}) || len(denied) != 0 {
		t.Fatalf("authorized requests %v, denied %v; want one authorized request per environment and no denial", ok, denied)
	}
	if !slices.Equal(open, []string{"/open/flag-on"}) {
		t.Errorf("open requests %v, want only /open/flag-on (no rollback)", open)
	}

	// Workflow histories: the release and both environments, every string
	// and payload decoded. The reference must be there (so the search is
	// over the decoded input), the value must not.
	runs := [][2]string{{id, ""}}
	for _, e := range st.Environments {
		runs = append(runs, [2]string{e.WorkflowID, e.RunID})
	}
	for _, run := range runs {
		text := historyText(fetchHistory(t, stack.client, run[0], run[1]))
		if !strings.Contains(text, "env:"+tokenVar) {
			t.Errorf("history of %s does not contain the reference env:%s; the search below would prove nothing", run[0], tokenVar)
		}
		if strings.Contains(text, secret) {
			t.Errorf("the secret is in the workflow history of %s", run[0])
		}
	}
	// The status query answer (what the Web UI and `runbook status` show).
	if res := r.mustCLI("status", id, "-o", "json"); strings.Contains(res.stdout, secret) {
		t.Errorf("the secret is in the status of %s", id)
	}

	// Audit log: real records of this release, none with the secret.
	audit, err := os.ReadFile(r.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(audit), id) || !strings.Contains(string(audit), `"step.succeeded"`) {
		t.Fatalf("audit log %s has no step records of %s; the search would prove nothing", r.auditLog, id)
	}
	if strings.Contains(string(audit), secret) {
		t.Errorf("the secret is in the audit log")
	}

	// Worker output (stdout and stderr go to its log), read after it has
	// stopped so nothing is left in a buffer.
	w.stop()
	logb, err := os.ReadFile(w.log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logb), "worker running") {
		t.Fatalf("worker log %s does not hold the worker's output:\n%s", w.log, logb)
	}
	if strings.Contains(string(logb), secret) {
		t.Errorf("the secret is in the worker's output")
	}
	for _, out := range []string{watch.stdout, watch.stderr} {
		if strings.Contains(out, secret) {
			t.Errorf("the secret is in the output of runbook watch")
		}
	}
	if strings.Contains(tail(stack.serverLog, 100000), secret) {
		t.Errorf("the secret is in the Temporal server's log")
	}
}

// TestSecretMissingOnWorker: without the variable the check can never pass,
// so it fails at once (one attempt, non-retryable) naming the variable, the
// completed step is rolled back, and watch exits non-zero.
func TestSecretMissingOnWorker(t *testing.T) {
	t.Parallel()
	r := newRig(t, "nosecret")
	srv := newTokenServer(t, newSecret(t))
	r.env = withoutVar(r.env, tokenVar)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", secretRunbook, srv.srv.URL)

	id := r.deploy(path, digest, "1.0.0", "alice")
	res := r.cli("watch", id)
	if res.code == 0 || !strings.Contains(res.stderr, tokenVar) || !strings.Contains(res.stderr, "rolled-back") {
		t.Fatalf("watch: want a non-zero exit saying rolled-back and naming %s, got %s", tokenVar, res)
	}

	st := r.status(id)
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, tokenVar) {
		t.Errorf("release is %s (%s), want rolled-back naming %s", st.State, st.Reason, tokenVar)
	}
	stg := env(t, st, "staging")
	auth := step(t, stg, "authorized")
	wantMsg := "environment variable " + tokenVar + " (for header Authorization) is not set or empty on the worker"
	if auth.State != workflows.StateFailed || !strings.Contains(auth.Error, wantMsg) {
		t.Errorf("staging/authorized is %s with error %q; want failed with %q", auth.State, auth.Error, wantMsg)
	}
	if s := step(t, stg, "flag-on"); s.State != workflows.StateCompensated {
		t.Errorf("staging/flag-on is %s, want compensated", s.State)
	}
	if p := env(t, st, "production"); p.State != workflows.StateNotReached {
		t.Errorf("production is %s, want not-reached", p.State)
	}

	// Nothing reached the private endpoint; the rollback hook ran once.
	ok, denied, open := srv.seen()
	if len(ok)+len(denied) != 0 {
		t.Errorf("the check sent requests without its header: ok %v, denied %v", ok, denied)
	}
	if !slices.Equal(open, []string{"/open/flag-on", "/open/flag-off"}) {
		t.Errorf("open requests %v, want flag-on then its rollback flag-off", open)
	}

	// Non-retryable: one attempt of the check, failed with HTTPCheckInvalid.
	h := fetchHistory(t, stack.client, stg.WorkflowID, stg.RunID)
	scheduled := map[int64]string{} // event ID -> activity summary
	var attempts []int32
	var failures []string
	for _, ev := range h.Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			var summary string
			_ = converter.GetDefaultDataConverter().FromPayload(ev.GetUserMetadata().GetSummary(), &summary)
			scheduled[ev.GetEventId()] = summary
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			if strings.Contains(scheduled[a.GetScheduledEventId()], "/private/") {
				attempts = append(attempts, a.GetAttempt())
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			f := ev.GetActivityTaskFailedEventAttributes().GetFailure()
			info := f.GetApplicationFailureInfo()
			failures = append(failures, fmt.Sprintf("%s non-retryable=%v: %s", info.GetType(), info.GetNonRetryable(), f.GetMessage()))
		}
	}
	if !slices.Equal(attempts, []int32{1}) {
		t.Errorf("the check on /private/ started with attempts %v, want exactly one attempt", attempts)
	}
	if len(failures) != 1 || !strings.HasPrefix(failures[0], "HTTPCheckInvalid non-retryable=true: ") || !strings.Contains(failures[0], tokenVar) {
		t.Errorf("activity failures in history %q; want one non-retryable HTTPCheckInvalid naming %s", failures, tokenVar)
	}
	if res := r.cli("audit", "verify"); res.code != 0 {
		t.Errorf("audit verify: %s", res)
	}
}
