package test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testenv/pg"
	"github.com/runbookhq/runbook/workflows"
)

const crashRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    steps:
{{- range .X.Steps}}
      - name: {{.}}
        http-check:
          url: {{$.X.URL}}/effect/{{.}}
          method: POST
          body: '{"step": "{{.}}"}'
          timeout: 3s
          interval: 250ms
          deadline: 2m
{{- end}}
`

// effectServer applies an effect once per Idempotency-Key and answers a
// repeated key with the response of the first request. The first request
// of the blocked path waits in the handler until release is closed.
type effectServer struct {
	mu       sync.Mutex
	effects  map[string]int    // key -> times the effect was applied
	answers  map[string]string // key -> the response body
	keyPath  map[string]string // key -> path
	requests map[string][]string
	missing  int // POSTs without a key

	blockPath string
	blocked   bool
	seen      chan struct{} // closed when the blocked request arrived
	release   chan struct{}
	// releaseOnce closes release (also done at cleanup, so a failing test
	// does not leave the handler blocked).
	releaseOnce func()
	srv         *httptest.Server
}

func newEffectServer(t *testing.T, blockPath string) *effectServer {
	s := &effectServer{
		effects: map[string]int{}, answers: map[string]string{}, keyPath: map[string]string{},
		requests: map[string][]string{}, blockPath: blockPath,
		seen: make(chan struct{}), release: make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { close(s.release) })
		s.srv.Close()
	})
	s.releaseOnce = func() { once.Do(func() { close(s.release) }) }
	return s
}

func (s *effectServer) handle(w http.ResponseWriter, req *http.Request) {
	key := req.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.requests[req.URL.Path] = append(s.requests[req.URL.Path], key)
	block := req.URL.Path == s.blockPath && !s.blocked
	if block {
		s.blocked = true
		close(s.seen)
	}
	s.mu.Unlock()
	if block {
		// The worker that sent this dies meanwhile; the effect still
		// happens, but nobody reads the answer.
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		s.missing++
		http.Error(w, "Idempotency-Key required", http.StatusBadRequest)
		return
	}
	if body, ok := s.answers[key]; ok {
		fmt.Fprint(w, body)
		return
	}
	s.effects[key]++
	s.keyPath[key] = req.URL.Path
	s.answers[key] = fmt.Sprintf("effect %d applied for %s\n", len(s.effects), req.URL.Path)
	fmt.Fprint(w, s.answers[key])
}

// TestWorkerKilledMidStep kills the worker with SIGKILL while a POST step's
// request is in flight; a new worker finishes the release, and every step's
// effect happened exactly once thanks to its idempotency key. So did every
// audit entry, in the file log and in the team set-up's PostgreSQL table.
func TestWorkerKilledMidStep(t *testing.T) {
	t.Parallel()
	t.Run("file audit", func(t *testing.T) {
		t.Parallel()
		workerKilledMidStep(t, newRig(t, "crash"))
	})
	t.Run("postgres audit", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, "crash-pg")
		// The database's superuser owns the table the worker creates: allowed
		// as on a developer database (TestComposeAuditDatabaseInit covers the
		// runbook_worker role).
		r.env = append(r.env, "RUNBOOK_AUDIT_DSN="+auditDatabase(t), "RUNBOOK_AUDIT_DSN_ALLOW_OWNER=1")
		workerKilledMidStep(t, r)
	})
}

// auditDatabase starts a PostgreSQL server for the test and returns the
// connection string of a fresh database on it.
func auditDatabase(t *testing.T) string {
	srv := pg.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := srv.CreateDatabase(ctx, "audit")
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

func workerKilledMidStep(t *testing.T, r *rig) {
	steps := []string{"create-db", "register-dns", "notify"}
	srv := newEffectServer(t, "/effect/register-dns")
	w1 := r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", crashRunbook, map[string]any{"URL": srv.srv.URL, "Steps": steps})

	id := r.deploy(path, digest, "1.0.0", "alice")
	select {
	case <-srv.seen:
	case <-time.After(pollDeadline):
		t.Fatalf("the register-dns request never arrived")
	}
	w1.kill(t)
	srv.releaseOnce()
	r.startWorker()

	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch after the crash: %s", res)
	}
	st := r.status(id)
	assertSucceeded(t, st, "production")

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.missing > 0 {
		t.Errorf("%d POSTs came without an Idempotency-Key", srv.missing)
	}
	if len(srv.effects) != len(steps) {
		t.Errorf("%d distinct keys applied effects, want %d (one per POST step): %v", len(srv.effects), len(steps), srv.keyPath)
	}
	for key, n := range srv.effects {
		if n != 1 {
			t.Errorf("effect of %s (key %s) applied %d times", srv.keyPath[key], key, n)
		}
	}
	for _, s := range steps {
		p := "/effect/" + s
		keys := srv.requests[p]
		if len(keys) == 0 {
			t.Errorf("%s was never requested", p)
			continue
		}
		for _, k := range keys {
			if k != keys[0] || srv.keyPath[k] != p {
				t.Errorf("%s: requests carried keys %v; want one key, used for this step only", p, keys)
				break
			}
		}
	}
	if n := len(srv.requests["/effect/register-dns"]); n < 2 {
		t.Errorf("register-dns was requested %d time(s); the crash should have forced a retry", n)
	}

	// The audit log has exactly one step.succeeded record per step and
	// still verifies after the crash.
	succeeded := map[string]int{}
	for _, e := range r.auditRecords(id) {
		if e["action"] == "step.succeeded" {
			succeeded[fmt.Sprint(e["step"])]++
		}
	}
	wantSteps := append([]string{workflows.BuiltinArtifact}, steps...)
	for _, s := range wantSteps {
		if succeeded[s] != 1 {
			t.Errorf("audit log has %d step.succeeded records for %s, want 1", succeeded[s], s)
		}
	}
	if len(succeeded) != len(wantSteps) {
		t.Errorf("audit step.succeeded records for %v, want exactly %v", succeeded, wantSteps)
	}
	res := r.cli("audit", "verify")
	if res.code != 0 || !strings.Contains(res.stdout, "chain intact") {
		t.Errorf("audit verify after the crash: %s", res)
	}
	if dsn := auditDSN(r); dsn != "" && (!strings.Contains(res.stdout, "postgres") || strings.Contains(res.stdout+res.stderr, dsn)) {
		t.Errorf("audit verify should name the PostgreSQL store without its connection string: %s", res)
	}
}

// auditDSN is the rig's PostgreSQL audit connection string, "" for the file.
func auditDSN(r *rig) string {
	for _, kv := range r.env {
		if v, ok := strings.CutPrefix(kv, "RUNBOOK_AUDIT_DSN="); ok {
			return v
		}
	}
	return ""
}
