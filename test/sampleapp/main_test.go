package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// migrations is the example runbook's schema, the one a release applies.
const migrations = "../../runbooks/examples/migrations/checkout"

// TestOrdersFollowTheSchema runs one handler against the example migrations
// as a release applies them: no table, then version 1 (no note column), then
// version 2 (note), then back down to version 1, as a rollback would.
func TestOrdersFollowTheSchema(t *testing.T) {
	// A name SQLite's URI syntax would misread unless openDB escapes it.
	file := filepath.Join(t.TempDir(), "what?#%.db")
	db, err := openDB(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(newHandler("1.0.0", false, db, fault{}, nil))
	t.Cleanup(srv.Close)
	migrate := func(file string) {
		t.Helper()
		sqlText, err := os.ReadFile(filepath.Join(migrations, file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(sqlText)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	const gift = `{"item":"book","note":"gift wrap"}`

	code, body := do(t, srv, "POST", gift)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "run the migrations: table orders does not exist") {
		t.Fatalf("POST /orders without a table = %d %q, want 503 asking for the migrations", code, body)
	}

	migrate("000001_create_orders.up.sql")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
	// The app shares the file with migrators: a lock makes it wait, not fail.
	var busy int
	if err := db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
		t.Fatalf("busy_timeout = %d (%v), want 5000", busy, err)
	}
	row := created(t, srv, gift)
	if _, ok := row["note"]; ok || row["item"] != "book" || row["id"] != 1.0 || row["created_at"] == "" {
		t.Fatalf("order before the note column = %v, want id 1, item book, created_at and no note", row)
	}

	migrate("000002_add_order_note.up.sql")
	row = created(t, srv, gift)
	if row["note"] != "gift wrap" || row["id"] != 2.0 {
		t.Fatalf("order after the note column = %v, want id 2 with note \"gift wrap\"", row)
	}
	if row = created(t, srv, `{"item":"pen"}`); row["note"] != nil {
		t.Fatalf("order without a note = %v, want note null", row)
	}
	if _, body := do(t, srv, "POST", gift); !strings.Contains(body, `"note":"gift wrap"`) {
		t.Fatalf("POST /orders answered %q, want the literal the example runbook checks for", body)
	}
	code, body = do(t, srv, "GET", "")
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil || len(list) != 4 {
		t.Fatalf("GET /orders = %d %q (%v), want 200 with 4 orders", code, body, err)
	}
	if _, ok := list[0]["note"]; !ok || list[0]["note"] != nil || list[1]["note"] != "gift wrap" {
		t.Fatalf("GET /orders = %v, want every row with a note key, the first null, the second \"gift wrap\"", list)
	}

	// A rollback migrates down: the app stops writing notes, and says nothing of them.
	migrate("000002_add_order_note.down.sql")
	if row = created(t, srv, gift); row["id"] != 5.0 {
		t.Fatalf("order after migrating down = %v, want id 5", row)
	} else if _, ok := row["note"]; ok {
		t.Fatalf("order after migrating down = %v, want no note", row)
	}
}

// TestOrdersWithoutDatabase: without --db the app still serves health and
// version; /orders says what is missing.
func TestOrdersWithoutDatabase(t *testing.T) {
	srv := httptest.NewServer(newHandler("2.0.0", false, nil, fault{}, nil))
	t.Cleanup(srv.Close)
	for _, method := range []string{"GET", "POST"} {
		code, body := do(t, srv, method, `{"item":"book"}`)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "no database configured") {
			t.Errorf("%s /orders = %d %q, want 503 no database configured", method, code, body)
		}
	}
	resp, err := http.Get(srv.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /version = %d, want 200", resp.StatusCode)
	}
}

// TestOrdersIdempotencyKey: a release step retrying its POST with the same
// key gets the first answer, not a second order.
func TestOrdersIdempotencyKey(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "orders.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler("1.0.0", false, db, fault{}, nil))
	t.Cleanup(srv.Close)
	post := func(key string) string {
		req, _ := http.NewRequest("POST", srv.URL+"/orders", strings.NewReader(`{"item":"book"}`))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var row map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&row); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /orders = %d (%v), want 201", resp.StatusCode, err)
		}
		b, _ := json.Marshal(row)
		return string(b)
	}
	first := post("k1")
	if again := post("k1"); again != first {
		t.Errorf("repeated key answered %s, want the first answer %s", again, first)
	}
	if other := post("k2"); other == first {
		t.Errorf("a new key answered the first order again: %s", other)
	}
	if code, body := do(t, srv, "POST", `{"note":"no item"}`); code != http.StatusBadRequest {
		t.Errorf("POST without item = %d %q, want 400", code, body)
	}
}

// do sends one request to /orders and returns the status and the body.
func do(t *testing.T, srv *httptest.Server, method, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/orders", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// created posts body and returns the stored row, failing unless it is a 201.
func created(t *testing.T, srv *httptest.Server, body string) map[string]any {
	t.Helper()
	code, resp := do(t, srv, "POST", body)
	var row map[string]any
	if err := json.Unmarshal([]byte(resp), &row); code != http.StatusCreated || err != nil {
		t.Fatalf("POST /orders %s = %d %q (%v), want 201 with a JSON row", body, code, resp, err)
	}
	return row
}

// TestVersionHeader: every answer names the version, whatever the endpoint
// or the status, and / answers the version in its body.
func TestVersionHeader(t *testing.T) {
	h := newHandler("3.1.4", false, nil, fault{}, nil)
	for _, tc := range []struct {
		method, target string
		code           int
	}{
		{"GET", "/", http.StatusOK},
		{"HEAD", "/", http.StatusOK},
		{"GET", "/healthz", http.StatusOK},
		{"GET", "/version", http.StatusOK},
		{"GET", "/orders", http.StatusServiceUnavailable},
		{"GET", "/fault", http.StatusOK},
		{"GET", "/nowhere", http.StatusNotFound},
		{"PUT", "/", http.StatusMethodNotAllowed},
	} {
		rec := serve(h, tc.method, tc.target, "")
		if rec.Code != tc.code || rec.Header().Get("X-App-Version") != "3.1.4" {
			t.Errorf("%s %s = %d with X-App-Version %q, want %d with 3.1.4",
				tc.method, tc.target, rec.Code, rec.Header().Get("X-App-Version"), tc.code)
		}
	}
	if rec := serve(h, "GET", "/", ""); !strings.Contains(rec.Body.String(), "3.1.4") {
		t.Errorf("GET / body = %q, want the version in it", rec.Body.String())
	}
}

// TestFailFlag: --fail fails the health check only, as it always has.
func TestFailFlag(t *testing.T) {
	h := newHandler("1.0.0", true, nil, fault{}, nil)
	if rec := serve(h, "GET", "/healthz", ""); rec.Code != http.StatusInternalServerError {
		t.Errorf("GET /healthz with --fail = %d, want 500", rec.Code)
	}
	if rec := serve(h, "GET", "/", ""); rec.Code != http.StatusOK {
		t.Errorf("GET / with --fail = %d, want 200", rec.Code)
	}
}

// TestErrorRateIsCounted: the failures follow the rate closely at every
// point of a run, not just on average, and the extremes are exact.
func TestErrorRateIsCounted(t *testing.T) {
	const n = 300
	for _, rate := range []float64{0, 0.01, 0.1, 0.25, 1.0 / 3, 0.5, 2.0 / 3, 0.9, 0.999, 1} {
		h := newHandler("1.0.0", false, nil, fault{ErrorRate: rate}, nil)
		failed := 0
		for i := 1; i <= n; i++ {
			// / and /orders share the count: each request is one draw.
			target := []string{"/", "/orders"}[i%2]
			if serve(h, "GET", target, "").Code == http.StatusInternalServerError {
				failed++
			}
			if want := math.Round(float64(i) * rate); math.Abs(float64(failed)-want) > 1 {
				t.Fatalf("rate %v: %d of the first %d requests failed, want %v ± 1", rate, failed, i, want)
			}
		}
		if (rate == 0 && failed != 0) || (rate == 1 && failed != n) {
			t.Errorf("rate %v: %d of %d requests failed", rate, failed, n)
		}
	}
}

// TestFaultSparesAdminEndpoints: a fully failing, slow version still
// answers its health check and lets itself be healed at once.
func TestFaultSparesAdminEndpoints(t *testing.T) {
	h := newHandler("1.0.0", false, nil, fault{ErrorRate: 1, Delay: time.Hour}, nil)
	for _, target := range []string{"/healthz", "/version", "/fault"} {
		if rec := serve(h, "GET", target, ""); rec.Code != http.StatusOK {
			t.Errorf("GET %s under a fault = %d, want 200", target, rec.Code)
		}
	}
	if rec := serve(h, "DELETE", "/fault", ""); rec.Code != http.StatusOK {
		t.Fatalf("DELETE /fault = %d, want 200", rec.Code)
	}
	if rec := serve(h, "GET", "/", ""); rec.Code != http.StatusOK {
		t.Errorf("GET / after DELETE /fault = %d, want 200", rec.Code)
	}
}

// TestFaultEndpoint sets, shows and clears the fault at run time, with the
// values in the query or in a form body.
func TestFaultEndpoint(t *testing.T) {
	h := newHandler("1.0.0", false, nil, fault{}, nil)
	wantState(t, h, faultState{Delay: "0s"})

	if rec := serve(h, "POST", "/fault?error-rate=1", ""); rec.Code != http.StatusOK {
		t.Fatalf("POST /fault?error-rate=1 = %d %q, want 200", rec.Code, rec.Body.String())
	}
	for _, target := range []string{"/", "/orders"} {
		if rec := serve(h, "GET", target, ""); rec.Code != http.StatusInternalServerError {
			t.Errorf("GET %s at error-rate 1 = %d, want 500", target, rec.Code)
		}
	}
	wantState(t, h, faultState{ErrorRate: 1, Delay: "0s", Requests: 2, Failures: 2})

	// A value left out keeps its setting; the count restarts.
	if rec := serve(h, "POST", "/fault", "delay=15ms"); rec.Code != http.StatusOK {
		t.Fatalf("POST /fault delay=15ms = %d %q, want 200", rec.Code, rec.Body.String())
	}
	wantState(t, h, faultState{ErrorRate: 1, Delay: "15ms"})

	for _, bad := range []string{"", "error-rate=1.5", "error-rate=-0.1", "error-rate=NaN", "error-rate=half", "delay=-1s", "delay=soon", "rate=1"} {
		if rec := serve(h, "POST", "/fault", bad); rec.Code != http.StatusBadRequest {
			t.Errorf("POST /fault %q = %d, want 400", bad, rec.Code)
		}
	}
	wantState(t, h, faultState{ErrorRate: 1, Delay: "15ms"})

	if rec := serve(h, "DELETE", "/fault", ""); rec.Code != http.StatusOK {
		t.Fatalf("DELETE /fault = %d, want 200", rec.Code)
	}
	wantState(t, h, faultState{Delay: "0s"})
	if rec := serve(h, "GET", "/", ""); rec.Code != http.StatusOK {
		t.Errorf("GET / after DELETE /fault = %d, want 200", rec.Code)
	}
}

// TestFaultDelay: the delay slows / and /orders, not the health check, over
// a real connection.
func TestFaultDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	srv := httptest.NewServer(newHandler("1.0.0", false, nil, fault{Delay: delay}, nil))
	t.Cleanup(srv.Close)
	took := func(path string) time.Duration {
		t.Helper()
		start := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return time.Since(start)
	}
	for _, path := range []string{"/", "/orders"} {
		if d := took(path); d < delay {
			t.Errorf("GET %s took %v, want at least the delay %v", path, d, delay)
		}
	}
	if d := took("/healthz"); d >= delay {
		t.Errorf("GET /healthz took %v, want no delay", d)
	}
}

// TestFaultDelayEndsWithTheClient: a delayed request whose client has gone
// returns at once instead of holding the handler (and a shutdown) for the
// whole delay.
func TestFaultDelayEndsWithTheClient(t *testing.T) {
	h := newHandler("1.0.0", false, nil, fault{ErrorRate: 1, Delay: time.Hour}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Errorf("a request whose client had gone was answered %q", rec.Body.String())
	}
}

// TestFlags: --error-rate and --delay set the fault the app starts with.
func TestFlags(t *testing.T) {
	cfg, err := parseArgs([]string{"--version", "2.0.0", "--fail", "--error-rate", "0.25", "--delay", "150ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.version != "2.0.0" || !cfg.failing || cfg.fault != (fault{ErrorRate: 0.25, Delay: 150 * time.Millisecond}) {
		t.Fatalf("parseArgs = %+v, want version 2.0.0, failing, error-rate 0.25, delay 150ms", cfg)
	}
	wantState(t, newHandler(cfg.version, cfg.failing, nil, cfg.fault, nil), faultState{ErrorRate: 0.25, Delay: "150ms"})

	if cfg, err := parseArgs(nil, io.Discard); err != nil || cfg.fault != (fault{}) || cfg.addr != "127.0.0.1:18080" {
		t.Errorf("parseArgs() = %+v, %v; want the defaults and no fault", cfg, err)
	}
	for _, bad := range [][]string{{"--error-rate", "1.01"}, {"--error-rate", "x"}, {"--delay", "-5s"}, {"--delay", "5"}} {
		var out strings.Builder
		if _, err := parseArgs(bad, &out); err == nil || !strings.Contains(out.String(), "Usage") {
			t.Errorf("parseArgs(%q) = %v with output %q, want an error and the usage", bad, err, out.String())
		}
	}
}

// serve sends one request straight to h; a body is sent as a form.
func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantState fails the test unless GET /fault answers want.
func wantState(t *testing.T, h http.Handler, want faultState) {
	t.Helper()
	rec := serve(h, "GET", "/fault", "")
	var got faultState
	if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil || got != want {
		t.Fatalf("GET /fault = %d %q (%v), want %+v", rec.Code, rec.Body.String(), err, want)
	}
}
