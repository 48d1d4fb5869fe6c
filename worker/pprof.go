package worker

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// EnvPprof, set to true, serves Go's profiles under /debug/pprof/ on the
// worker's HTTP server (RUNBOOK_HTTP_ADDR): how the scale benchmark reads
// the goroutines and heap each release in flight costs, and how an operator
// finds where a busy worker's memory went. Off by default: profiles show
// the names and sizes of what the worker holds.
const EnvPprof = "RUNBOOK_PPROF"

// registerPprof adds the profile handlers to mux when EnvPprof is true.
func registerPprof(mux *http.ServeMux) {
	if os.Getenv(EnvPprof) != "true" {
		return
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
