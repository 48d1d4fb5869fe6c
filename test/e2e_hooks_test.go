package test

// Webhook triggers end to end: a real `runbook worker` with
// RUNBOOK_TRIGGERS_FILE serves POST /hooks/release; a signed GitHub tag push
// starts an ordinary release (its gate still waits for a person) whose
// status and audit name the trigger; a bad signature and a replayed
// delivery start nothing.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/runbookhq/runbook/internal/hooks"
	"github.com/runbookhq/runbook/workflows"
)

const hooksRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: staging
    approvals:
      - name: go-ahead
        approvers: [bob]
    steps:
      - name: smoke
        http-check:
          url: {{.X.URL}}/staging/${version}/healthz
          interval: 250ms
`

// hookSecret is outside RUNBOOK_ENV_ALLOW (E2E_*), as the trigger file
// requires: no runbook can read it.
const hookSecret = "e2e-hook-secret-0123456789abcdef"

func TestE2EWebhookTrigger(t *testing.T) {
	r := newRig(t, "hooks")
	rec := newRecorder(t)
	path, digest := r.writeRunbook("hooks.yaml", hooksRunbook, map[string]any{"URL": rec.srv.URL})
	triggers := filepath.Join(r.dir, "triggers.yaml")
	trig := fmt.Sprintf(`triggers:
  - name: shop-tags
    source: github
    repository: acme/%s
    tags: "v*"
    runbook: %s
    secret: env:HOOK_E2E_SECRET
`, r.service, path)
	if err := os.WriteFile(triggers, []byte(trig), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", appPort(t))
	r.startWorker("RUNBOOK_HTTP_ADDR="+addr, "RUNBOOK_TRIGGERS_FILE="+triggers, "HOOK_E2E_SECRET="+hookSecret)
	url := "http://" + addr + hooks.Path
	eventually(t, "worker serves /healthz", func() bool { ok, _ := healthy("http://" + addr)(context.Background()); return ok })

	push := func(tag, delivery, secret string) (int, string) {
		body := fmt.Sprintf(`{"ref":"refs/tags/%s","deleted":false,"repository":{"full_name":"acme/%s"},"pusher":{"name":"alice"},"sender":{"login":"alice"}}`, tag, r.service)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body))
		return postHook(t, url, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
			"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))}, body)
	}

	// A bad signature: 401 and no release.
	if code, body := push("v1.4.3", "e2e-bad", "not-the-secret"); code != http.StatusUnauthorized {
		t.Fatalf("bad signature answered %d %q, want 401", code, body)
	}

	delivery := "e2e-" + r.service
	code, body := push("v1.4.2", delivery, hookSecret)
	id := workflows.ReleaseID(r.service, "1.4.2")
	if code != http.StatusAccepted || !strings.Contains(body, "started "+id) {
		t.Fatalf("good delivery answered %d %q, want 202 started %s", code, body, id)
	}
	// A trigger bypasses no gate: the release waits for bob.
	st := r.waitFor(id, "the triggered release waits at its gate", gateWaiting("staging", "go-ahead"))
	if st.Requester != "trigger:shop-tags" || st.Digest != digest || st.Trigger == nil ||
		st.Trigger.Kind != "webhook" || st.Trigger.ID != delivery || st.Trigger.Source != "github acme/"+r.service ||
		st.Trigger.Detail != "tag v1.4.2 pushed by alice" {
		t.Fatalf("release status does not name the trigger: requester %q digest %q trigger %+v", st.Requester, st.Digest, st.Trigger)
	}
	runID := describeRun(t, id)

	// The same delivery again: a duplicate, nothing started.
	if code, body := push("v1.4.2", delivery, hookSecret); code != http.StatusOK || !strings.Contains(body, "duplicate delivery "+delivery) {
		t.Fatalf("replayed delivery answered %d %q, want 200 duplicate", code, body)
	}
	if again := describeRun(t, id); again != runID {
		t.Fatalf("the replay started a new run %s of %s (was %s)", again, id, runID)
	}
	if got := describeRun(t, hooks.DeliveryRecordID("shop-tags", delivery)); got == "" {
		t.Fatal("no delivery record")
	}
	if _, err := stack.client.DescribeWorkflow(context.Background(), workflows.ReleaseID(r.service, "1.4.3"), ""); !isNotFound(err) {
		t.Fatalf("the badly signed delivery started release 1.4.3 (describe: %v)", err)
	}

	r.mustCLI("approve", id, "--as", "bob")
	st = r.waitFor(id, "the triggered release succeeds", func(s workflows.ReleaseStatus) bool { return s.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("release ended %s: %s", st.State, st.Reason)
	}
	started := false
	for _, e := range r.auditRecords(id) {
		if e["action"] == "release.started" {
			started = e["actor"] == "trigger:shop-tags" &&
				strings.Contains(fmt.Sprint(e["detail"]), "started by webhook github acme/"+r.service+" ("+delivery+"): tag v1.4.2 pushed by alice")
			if !started {
				t.Errorf("release.started does not name the trigger: %v", e)
			}
		}
	}
	if !started {
		t.Error("no release.started audit record naming the trigger")
	}
}

// postHook posts body with headers and returns the answer's code and body.
func postHook(t *testing.T, url string, headers map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	t.Logf("POST %s (%s) -> %d %s", url, headers["X-GitHub-Delivery"], resp.StatusCode, strings.TrimSpace(string(b)))
	return resp.StatusCode, string(b)
}

// describeRun returns the run ID of the latest run of workflow id.
func describeRun(t *testing.T, id string) string {
	t.Helper()
	d, err := stack.client.DescribeWorkflow(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d.WorkflowExecution.RunID
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
