package test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runbookhq/runbook/workflows"
)

// journeyRunbook turns a flag on (undone by its on-rollback hook), then
// walks the shop as a user: log in with the worker's key, order with the
// session token, read the order back by the number the order answered.
const journeyRunbook = `api-version: runbook/v1
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
        on-rollback:
          url: {{.X}}/open/flag-off
          method: POST
      - name: buy
        journey:
          interval: 250ms
          deadline: 5s
          requests:
            - name: login
              method: POST
              url: {{.X}}/login
              headers: {X-Api-Key: env:RB_CHECK_TOKEN}
              extract: {token: $.session.token}
            - name: order
              method: POST
              url: {{.X}}/orders?release=${version}
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-status: 201
              extract: {order: "header:X-Order-Id"}
            - name: read
              url: {{.X}}/orders/${journey.order}
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-json: {$.id: "${journey.order}", $.paid: true}
`

// journeyShop is the shop the journey walks, on 127.0.0.1. Every login
// issues a fresh random token and every order a fresh random number, so
// finding one anywhere can only mean it leaked. unpaid makes orders read
// back unpaid (a broken release).
type journeyShop struct {
	key    string
	unpaid bool
	mu     sync.Mutex
	tokens []string
	orders []string
	paths  []string // METHOD path of every request, in order
	srv    *httptest.Server
}

func newJourneyShop(t *testing.T, key string, unpaid bool) *journeyShop {
	s := &journeyShop{key: key, unpaid: unpaid}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *journeyShop) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, r.Method+" "+r.URL.Path)
	authorized := len(s.tokens) > 0 && r.Header.Get("Authorization") == "Bearer "+s.tokens[len(s.tokens)-1]
	switch {
	case strings.HasPrefix(r.URL.Path, "/open/"):
		fmt.Fprintln(w, "ok")
	case r.Method == http.MethodPost && r.URL.Path == "/login" && r.Header.Get("X-Api-Key") == s.key:
		s.tokens = append(s.tokens, "tok-"+newSecretString())
		_ = json.NewEncoder(w).Encode(map[string]any{"session": map[string]string{"token": s.tokens[len(s.tokens)-1]}})
	case r.Method == http.MethodPost && r.URL.Path == "/orders" && authorized:
		s.orders = append(s.orders, "ord-"+newSecretString()[:12])
		w.Header().Set("X-Order-Id", s.orders[len(s.orders)-1])
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodGet && len(s.orders) > 0 && r.URL.Path == "/orders/"+s.orders[len(s.orders)-1] && authorized:
		_ = json.NewEncoder(w).Encode(map[string]any{"id": s.orders[len(s.orders)-1], "paid": !s.unpaid})
	default:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}
}

// values are every token and order number the shop handed out.
func (s *journeyShop) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(slices.Clone(s.tokens), s.orders...)
}

func (s *journeyShop) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.paths)
}

// newSecretString is 32 random hex digits (rand.Read never fails).
func newSecretString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestJourneyStepE2E: the journey passes in staging on the real stack. The
// worker's key, the session token and the order number (one a secret of
// the worker, two values of answers) are in no history, status, audit
// record or worker output.
func TestJourneyStepE2E(t *testing.T) {
	t.Parallel()
	r := newRig(t, "journey")
	key := newSecret(t)
	shop := newJourneyShop(t, key, false)
	r.env = withoutVar(r.env, tokenVar)
	w := r.startWorker(tokenVar + "=" + key)
	path, digest := r.writeRunbook("runbook.yaml", journeyRunbook, shop.srv.URL)

	id := r.deploy(path, digest, "1.0.0", "alice")
	if res := r.cli("watch", id); res.code != 0 {
		t.Fatalf("watch: %s", res)
	}
	st := r.status(id)
	assertSucceeded(t, st, "staging")
	buy := step(t, env(t, st, "staging"), "buy")
	if !strings.HasPrefix(buy.Detail, "journey: 3 requests passed in ") {
		t.Errorf("buy detail = %q", buy.Detail)
	}
	want := []string{"POST /open/flag-on", "POST /login", "POST /orders", "GET /orders/"}
	if got := shop.seen(); len(got) != 4 || !slices.Equal(got[:3], want[:3]) || !strings.HasPrefix(got[3], want[3]) {
		t.Errorf("the shop saw %v, want %v<order>", got, want)
	}
	secrets := append(shop.values(), key)
	if len(secrets) != 3 {
		t.Fatalf("the shop handed out %d values, want a token and an order", len(secrets)-1)
	}
	status := r.mustCLI("status", id, "-o", "json").stdout
	w.stop() // its output is read once nothing is left in a buffer
	assertNowhere(t, r, st, w, status, secrets)
}

// assertNowhere fails when any of secrets is in the release's histories,
// its status (as the CLI printed it), the audit log or the worker's output.
func assertNowhere(t *testing.T, r *rig, st workflows.ReleaseStatus, w *workerProc, status string, secrets []string) {
	t.Helper()
	texts := map[string]string{"status": status}
	texts["history of "+st.ReleaseID] = historyText(fetchHistory(t, stack.client, st.ReleaseID, ""))
	for _, e := range st.Environments {
		texts["history of "+e.WorkflowID] = historyText(fetchHistory(t, stack.client, e.WorkflowID, e.RunID))
	}
	if !strings.Contains(texts["history of "+st.Environments[0].WorkflowID], "${journey.token}") {
		t.Errorf("the environment's history has no ${journey.token}; the search would prove nothing")
	}
	for _, f := range []string{r.auditLog, w.log} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(b)
	}
	for where, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%q is in the %s", s, where)
			}
		}
	}
}

// TestJourneyStepFailsAndRollsBack: orders read back unpaid; the journey
// is retried to its deadline, fails naming the request and the
// expectation, and the flag the step before turned on is turned off.
func TestJourneyStepFailsAndRollsBack(t *testing.T) {
	t.Parallel()
	r := newRig(t, "journeyfail")
	key := newSecret(t)
	shop := newJourneyShop(t, key, true)
	r.env = withoutVar(r.env, tokenVar)
	w := r.startWorker(tokenVar + "=" + key)
	path, digest := r.writeRunbook("runbook.yaml", journeyRunbook, shop.srv.URL)

	id := r.deploy(path, digest, "1.0.0", "alice")
	if res := r.cli("watch", id); res.code == 0 || !strings.Contains(res.stderr, "rolled-back") {
		t.Fatalf("watch: want a non-zero exit saying rolled-back, got %s", res)
	}
	st := r.status(id)
	stg := env(t, st, "staging")
	const want = `request read: $.paid is "false", want "true"`
	if buy := step(t, stg, "buy"); st.State != workflows.StateRolledBack || buy.State != workflows.StateFailed || !strings.Contains(buy.Error, want) {
		t.Errorf("release %s, buy %s (%q); want rolled-back, failed with %q", st.State, buy.State, buy.Error, want)
	}
	if s := step(t, stg, "flag-on"); s.State != workflows.StateCompensated {
		t.Errorf("flag-on is %s, want compensated", s.State)
	}
	seen := shop.seen()
	if seen[len(seen)-1] != "POST /open/flag-off" || strings.Count(strings.Join(seen, ","), "POST /login") < 2 {
		t.Errorf("the shop saw %v; want the journey retried, then flag-off", seen)
	}
	status := r.mustCLI("status", id, "-o", "json").stdout
	w.stop()
	assertNowhere(t, r, st, w, status, append(shop.values(), key))
}
