package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go (CGO_ENABLED=0 builds)
)

// The app does not create its schema: the release's migrate step does, and
// the app adapts to what it finds, the way code must during an expand/contract
// migration. A version that knows the note column writes it only once the
// column exists, so it runs against the old schema and the new one alike.
const (
	noDatabase    = "no database configured (start the app with --db FILE)"
	noTable       = "run the migrations: table orders does not exist"
	maxBody       = 64 << 10
	maxRemembered = 1024 // idempotency keys kept; a demo app, not a ledger
)

// openDB opens the SQLite file at path without touching it yet. The busy
// timeout lets the app and a migrator share the file: whoever finds it locked
// waits up to 5 s instead of failing with SQLITE_BUSY.
func openDB(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// A file: URI, so a '?' or '#' in the path cannot be taken for the query.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(abs)
	return sql.Open("sqlite", "file:"+esc+"?_pragma=busy_timeout(5000)")
}

// orders serves /orders from db.
type orders struct {
	db *sql.DB

	// mu serialises creates, so a repeated Idempotency-Key (a release step
	// retrying its POST) returns the first answer instead of a second row.
	mu   sync.Mutex
	seen map[string]seenResponse
}

type seenResponse struct {
	status int
	body   []byte
}

// orderInput is the body of POST /orders.
type orderInput struct {
	Item string  `json:"item"`
	Note *string `json:"note"`
}

// list answers every order, oldest first, each with all columns of the table.
func (o *orders) list(w http.ResponseWriter, r *http.Request) {
	if !o.ready(r.Context(), w) {
		return
	}
	rows, err := o.db.QueryContext(r.Context(), "SELECT * FROM orders ORDER BY id")
	if err != nil {
		dbError(w, "list orders", err)
		return
	}
	all, err := scanRows(rows)
	if err != nil {
		dbError(w, "list orders", err)
		return
	}
	writeJSON(w, http.StatusOK, all)
}

// create inserts one order and answers it as stored. The note is written only
// when the table has a note column (after the expand migration); before, it
// is ignored and the answer has no "note" at all.
func (o *orders) create(w http.ResponseWriter, r *http.Request) {
	var in orderInput
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	if err := dec.Decode(&in); err != nil {
		http.Error(w, `the body must be JSON: {"item": "...", "note": "..."}`, http.StatusBadRequest)
		return
	}
	if strings.TrimSpace(in.Item) == "" {
		http.Error(w, `item is required: {"item": "...", "note": "..."}`, http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	if prev, ok := o.seen[key]; ok && key != "" {
		writeBody(w, prev.status, prev.body)
		return
	}
	cols, ok := o.columns(r.Context(), w)
	if !ok {
		return
	}
	query, args := "INSERT INTO orders (item) VALUES (?) RETURNING *", []any{in.Item}
	if cols["note"] {
		query, args = "INSERT INTO orders (item, note) VALUES (?, ?) RETURNING *", []any{in.Item, in.Note}
	}
	rows, err := o.db.QueryContext(r.Context(), query, args...)
	if err != nil {
		dbError(w, "insert order", err)
		return
	}
	stored, err := scanRows(rows)
	if err == nil && len(stored) != 1 {
		err = fmt.Errorf("the insert returned %d rows, want 1", len(stored))
	}
	if err != nil {
		dbError(w, "insert order", err)
		return
	}
	body, err := json.Marshal(stored[0])
	if err != nil {
		dbError(w, "encode order", err)
		return
	}
	body = append(body, '\n')
	if key != "" {
		if len(o.seen) >= maxRemembered {
			clear(o.seen)
		}
		o.seen[key] = seenResponse{status: http.StatusCreated, body: body}
	}
	writeBody(w, http.StatusCreated, body)
}

// ready answers 503 unless there is a database with an orders table.
func (o *orders) ready(ctx context.Context, w http.ResponseWriter) bool {
	_, ok := o.columns(ctx, w)
	return ok
}

// columns reads the orders table's columns on every request: a migration may
// add one while the app runs. It answers 503 itself when there is no database
// or no table, and reports false.
func (o *orders) columns(ctx context.Context, w http.ResponseWriter) (map[string]bool, bool) {
	if o.db == nil {
		http.Error(w, noDatabase, http.StatusServiceUnavailable)
		return nil, false
	}
	rows, err := o.db.QueryContext(ctx, "SELECT name FROM pragma_table_info('orders')")
	if err != nil {
		dbError(w, "read the orders table's columns", err)
		return nil, false
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			dbError(w, "read the orders table's columns", err)
			return nil, false
		}
		cols[name] = true
	}
	if err := rows.Err(); err != nil {
		dbError(w, "read the orders table's columns", err)
		return nil, false
	}
	if len(cols) == 0 {
		http.Error(w, noTable, http.StatusServiceUnavailable)
		return nil, false
	}
	return cols, true
}

// scanRows reads every row into a column -> value map and closes rows. Text
// comes back as strings, so the JSON shows it as such.
func scanRows(rows *sql.Rows) ([]map[string]any, error) {
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(names))
		for i, n := range names {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
			row[n] = vals[i]
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func dbError(w http.ResponseWriter, what string, err error) {
	slog.Error("database", "op", what, "err", err)
	http.Error(w, fmt.Sprintf("%s: %v", what, err), http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeBody(w, status, append(body, '\n'))
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
