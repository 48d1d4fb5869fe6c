// Command sampleapp is the small service the demo and the end-to-end tests
// release: it reports its health and version over HTTP and, given a SQLite
// database with --db, takes orders at /orders. Every answer names the version
// in an X-App-Version header, so a client behind a weighted proxy can tell
// which version served it.
//
// To show a rollback, a version can be made to fail: --fail fails /healthz,
// and --error-rate and --delay (or POST /fault at run time) fail and slow the
// user-facing endpoints / and /orders.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
)

// config is the command line.
type config struct {
	addr, version, dbPath string
	flagsFile, flag       string
	failing               bool
	fault                 fault
}

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag set has said what is wrong
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sampleapp:", err)
		os.Exit(1)
	}
}

// parseArgs reads the flags in args, reporting errors and usage to out.
func parseArgs(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("sampleapp", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:18080", "listen address")
	fs.StringVar(&cfg.version, "version", "dev", "version to report at /version and in the X-App-Version header")
	fs.BoolVar(&cfg.failing, "fail", false, "answer 500 at /healthz (to show a rollback)")
	fs.StringVar(&cfg.dbPath, "db", "", "SQLite database file for /orders (created when missing; its schema comes from the migrations); without it /orders answers 503")
	fs.Float64Var(&cfg.fault.ErrorRate, "error-rate", 0, "fraction (0..1) of requests to / and /orders answered 500; change it at run time with POST /fault")
	fs.DurationVar(&cfg.fault.Delay, "delay", 0, "delay added to each request to / and /orders; change it at run time with POST /fault")
	fs.StringVar(&cfg.flagsFile, "flags", "", "flagd flag definitions file: GET / evaluates --flag through OpenFeature for each request's subject (X-User, or one per request)")
	fs.StringVar(&cfg.flag, "flag", "new-checkout", "the feature flag GET / evaluates (with --flags)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if err := cfg.fault.validate(); err != nil {
		fmt.Fprintln(out, "sampleapp:", err)
		fs.Usage()
		return cfg, err
	}
	return cfg, nil
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var db *sql.DB
	if cfg.dbPath != "" {
		// sql.Open connects on first use, so the app starts (and answers
		// /healthz) whatever state the database is in.
		var err error
		if db, err = openDB(cfg.dbPath); err != nil {
			return err
		}
		defer db.Close()
	}
	feat, err := newFeature(cfg.flagsFile, cfg.flag)
	if err != nil {
		return err
	}
	handler := newHandler(cfg.version, cfg.failing, db, cfg.fault, feat)
	srv := newServer(cfg.addr, handler)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("sampleapp listening", "addr", cfg.addr, "version", cfg.version, "db", cfg.dbPath,
		"error-rate", cfg.fault.ErrorRate, "delay", cfg.fault.Delay, "flags", cfg.flagsFile, "flag", cfg.flag)
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

// newServer serves handler on addr with the limits of runbook's own
// endpoints: the sample app stands for a user's app behind the edge, and its
// requests are small and quick (an injected delay longer than a minute would
// be cut, which no test needs).
func newServer(addr string, handler http.Handler) *http.Server {
	srv := httpserver.New(handler, httpserver.Endpoint)
	srv.Addr = addr
	return srv
}

// newHandler serves /, /healthz, /version, /orders and /fault; db may be nil.
// initial is the fault injected until POST or DELETE /fault changes it; the
// admin endpoints /healthz and /fault are never faulted, so a failing version
// can still be probed and healed.
func newHandler(version string, failing bool, db *sql.DB, initial fault, feat *feature) http.Handler {
	mux := http.NewServeMux()
	in := &injector{f: initial}
	in.register(mux)
	if feat != nil {
		feat.register(mux)
	}
	mux.HandleFunc("GET /{$}", in.wrap(feat.wrap(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "sampleapp %s%s\n", version, map[bool]string{true: " (new checkout)"}[w.Header().Get("X-Feature") == "on"])
	})))
	if feat != nil {
		mux.HandleFunc("GET /checkout", in.wrap(feat.wrap(feat.checkouts.checkout)))
	}
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
	mux.HandleFunc("GET /orders", in.wrap(o.list))
	mux.HandleFunc("POST /orders", in.wrap(o.create))
	return withVersion(version, mux)
}

// withVersion names the version on every answer, errors and 404s included:
// clients behind the proxy count answers per version by this header.
func withVersion(version string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", version)
		next.ServeHTTP(w, r)
	})
}
