package hooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const testSecret = "hook-secret-0123456789abcdef"

// stagingRunbook is a runbook a trigger may release: its one environment
// takes unsigned decisions.
const stagingRunbook = `api-version: runbook/v1
service: shop
owner: team-shop
artifact:
  reference: ./shop-${version}.tar
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:1/healthz
`

// writeFiles writes the runbook, an artifact for v1.4.2 and a trigger file
// holding triggers (YAML list items), and returns the trigger file's path.
func writeFiles(t *testing.T, runbook, triggers string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rb := write("shop.yaml", runbook)
	write("shop-1.4.2.tar", "artifact 1.4.2\n")
	return write("triggers.yaml", "triggers:\n"+strings.ReplaceAll(triggers, "RUNBOOK", rb))
}

// env is a getenv holding the test's secrets.
func env(name string) (string, bool) {
	switch name {
	case "SHOP_HOOK_SECRET":
		return testSecret, true
	case "EMPTY_SECRET":
		return "", true
	}
	return "", false
}

// recorder is a Starter recording what it was asked to start; the real
// starter is exercised end to end in test/e2e_hooks_test.go.
type recorder struct {
	mu      sync.Mutex
	started []string
	seen    map[string]bool
}

func (r *recorder) Start(_ context.Context, t *Trigger, e Event) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := DeliveryRecordID(t.Name, e.DeliveryID)
	if r.seen[key] {
		return Result{Duplicate: true}, nil
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[key] = true
	in, err := t.releaseInput(e)
	if err != nil {
		return Result{}, err
	}
	r.started = append(r.started, in.Version+" "+in.Digest+" "+in.Requester+" "+in.Trigger.Describe())
	return Result{ReleaseID: "release/" + in.Runbook.Service + "/" + in.Version}, nil
}

func newHandler(t *testing.T, triggers string) (*Handler, *recorder) {
	t.Helper()
	f, err := Load(writeFiles(t, stagingRunbook, triggers), env)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	return &Handler{File: f, Starter: rec}, rec
}

func post(h http.Handler, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// GitHubSignature is X-Hub-Signature-256 for body under secret.
func githubSignature(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func httpGet() (*http.Request, *httptest.ResponseRecorder) {
	return httptest.NewRequest(http.MethodGet, Path, nil), httptest.NewRecorder()
}
