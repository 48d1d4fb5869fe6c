package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	srv := httptest.NewServer(newHandler("1.0.0", false, db))
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
	srv := httptest.NewServer(newHandler("2.0.0", false, nil))
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
	srv := httptest.NewServer(newHandler("1.0.0", false, db))
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
