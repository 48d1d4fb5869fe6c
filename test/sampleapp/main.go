// Command sampleapp is the small service the demo and the end-to-end tests
// release: it reports its health and version over HTTP and, given a SQLite
// database with --db, takes orders at /orders.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	version := flag.String("version", "dev", "version to report at /version")
	failing := flag.Bool("fail", false, "answer 500 at /healthz (to show a rollback)")
	dbPath := flag.String("db", "", "SQLite database file for /orders (created when missing; its schema comes from the migrations); without it /orders answers 503")
	flag.Parse()
	if err := run(*addr, *version, *failing, *dbPath); err != nil {
		fmt.Fprintln(os.Stderr, "sampleapp:", err)
		os.Exit(1)
	}
}

func run(addr, version string, failing bool, dbPath string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var db *sql.DB
	if dbPath != "" {
		// sql.Open connects on first use, so the app starts (and answers
		// /healthz) whatever state the database is in.
		var err error
		if db, err = openDB(dbPath); err != nil {
			return err
		}
		defer db.Close()
	}
	srv := &http.Server{Addr: addr, Handler: newHandler(version, failing, db), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("sampleapp listening", "addr", addr, "version", version, "db", dbPath)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler serves /healthz, /version and /orders; db may be nil.
func newHandler(version string, failing bool, db *sql.DB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if failing {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, version)
	})
	o := &orders{db: db, seen: map[string]seenResponse{}}
	mux.HandleFunc("GET /orders", o.list)
	mux.HandleFunc("POST /orders", o.create)
	return mux
}
