// Package ofrepfake is flagd's flag evaluation over OFREP, the OpenFeature
// Remote Evaluation Protocol (https://openfeature.dev/specification/appendix-c
// and https://github.com/open-feature/protocol, POST
// /ofrep/v1/evaluate/flags/{key}), for tests, in process on 127.0.0.1. It
// serves a flagd definitions file as flagd's file sync does, picking up a
// change only a lag after the file was written, so a provider must poll;
// Freeze makes it stop reading the file, as a flagd pointed at another
// file would.
//
// It evaluates with internal/flagd, runbook's own evaluator: it checks the
// protocol and the waiting, not flagd's evaluation rules (flagd itself is
// not available from the Go module proxy here).
package ofrepfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/flagd"
)

// Server is the fake flagd.
type Server struct {
	*httptest.Server
	// Path is the definitions file served.
	Path string
	// Lag is how long a change to the file takes to be served.
	Lag time.Duration

	t      testing.TB
	mu     sync.Mutex
	file   flagd.File
	loaded time.Time // the modification time of the file served
	frozen bool
}

// New serves path with lag; the test's cleanup stops it.
func New(t testing.TB, path string, lag time.Duration) *Server {
	s := &Server{Path: path, Lag: lag, t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ofrep/v1/evaluate/flags/{key}", s.evaluate)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("ofrepfake: unknown request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotImplemented)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// Freeze stops picking up changes to the file.
func (s *Server) Freeze() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frozen = true
}

// current is the file as served now: a change is picked up once Lag has
// passed since the file was written, so a read right after a write always
// sees the old definitions.
func (s *Server) current() flagd.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := os.Stat(s.Path)
	if err != nil || s.frozen || st.ModTime().Equal(s.loaded) || time.Since(st.ModTime()) < s.Lag {
		return s.file
	}
	if f, err := flagd.Read(s.Path); err == nil {
		s.file, s.loaded = f, st.ModTime()
	}
	return s.file
}

// evaluate answers one flag for {"context": {...}}: the variant, its value
// and the reason, or FLAG_NOT_FOUND (404) and TARGETING_KEY_MISSING (400)
// as OFREP's error responses.
func (s *Server) evaluate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Context map[string]any `json:"context"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
		s.t.Errorf("ofrepfake: %s: want a JSON body {\"context\": {...}}", r.URL.Path)
		reply(w, http.StatusBadRequest, map[string]string{"errorCode": "PARSE_ERROR"})
		return
	}
	key := r.PathValue("key")
	tk, _ := in.Context["targetingKey"].(string)
	seg, _ := in.Context["segment"].(string)
	f := s.current()
	variant, reason := f.Evaluate(key, tk, seg)
	switch {
	case reason == "FLAG_NOT_FOUND":
		reply(w, http.StatusNotFound, map[string]string{"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": "flag: " + key + " not found"})
		return
	case reason == "SPLIT" && tk == "":
		reply(w, http.StatusBadRequest, map[string]string{"key": key, "errorCode": "TARGETING_KEY_MISSING"})
		return
	}
	reply(w, http.StatusOK, map[string]any{"key": key, "variant": variant, "value": f.Flags[key].Variants[variant], "reason": reason})
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
