package edgeproxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// MaxDrainTimeout caps the wait of one drain request; callers that need
// longer ask again.
const MaxDrainTimeout = 10 * time.Minute

// drainWriteMargin is the time a drain's answer has to be written after the
// drain's own timeout.
const drainWriteMargin = 30 * time.Second

// WeightsRequest is the body of PUT /v1/weights.
type WeightsRequest struct {
	Weights map[string]int `json:"weights"`
}

// PutRequest is the body of PUT /v1/backends/{name}.
type PutRequest struct {
	URL    string `json:"url,omitempty"`
	Weight *int   `json:"weight"`
}

// DrainRequest is the body of POST /v1/backends/{name}/drain; Timeout is a
// Go duration such as "30s".
type DrainRequest struct {
	Timeout string `json:"timeout"`
}

// DrainResponse answers a drain: InFlight is what was still running when
// the wait ended.
type DrainResponse struct {
	Backend  string `json:"backend"`
	InFlight int    `json:"inflight"`
	Drained  bool   `json:"drained"`
}

// BackendsResponse answers GET /v1/backends.
type BackendsResponse struct {
	Backends []BackendStatus `json:"backends"`
}

// AdminHandler serves the admin API under /v1 (token required) and the
// metrics at /metrics (open: read-only, so Prometheus can scrape it with no
// secret; the listener is meant for 127.0.0.1).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/backends", s.auth(s.handleList))
	mux.HandleFunc("PUT /v1/backends/{name}", s.auth(s.handlePut))
	mux.HandleFunc("DELETE /v1/backends/{name}", s.auth(s.handleDelete))
	mux.HandleFunc("POST /v1/backends/{name}/drain", s.auth(s.handleDrain))
	mux.HandleFunc("PUT /v1/weights", s.auth(s.handleWeights))
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	return mux
}

// auth compares SHA-256 digests in constant time, so neither the token's
// content nor its length leaks through timing.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(s.cfg.Token))
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="runbook-edge"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token (RUNBOOK_EDGE_TOKEN)"))
			return
		}
		next(w, r)
	}
}

func (s *Server) handleList(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, BackendsResponse{Backends: s.Backends()})
}

func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	var req PutRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Weight == nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: body needs \"weight\"", ErrInvalid))
		return
	}
	name := r.PathValue("name")
	if err := s.Put(BackendSpec{Name: name, URL: req.URL, Weight: *req.Weight}); err != nil {
		writeError(w, statusFor(err), err)
		return
	}
	s.log.Info("edge: backend set", "backend", name, "weight", *req.Weight)
	s.handleList(w, r)
}

func (s *Server) handleWeights(w http.ResponseWriter, r *http.Request) {
	var req WeightsRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.SetWeights(req.Weights); err != nil {
		writeError(w, statusFor(err), err)
		return
	}
	s.log.Info("edge: weights set", "weights", req.Weights)
	s.handleList(w, r)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Delete(r.PathValue("name")); err != nil {
		writeError(w, statusFor(err), err)
		return
	}
	s.log.Info("edge: backend deleted", "backend", r.PathValue("name"))
	s.handleList(w, r)
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	var req DrainRequest
	if !readJSON(w, r, &req) {
		return
	}
	timeout, err := time.ParseDuration(req.Timeout)
	if err != nil || timeout < 0 || timeout > MaxDrainTimeout {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: timeout %q: want a duration from 0s to %s", ErrInvalid, req.Timeout, MaxDrainTimeout))
		return
	}
	// A drain may wait up to MaxDrainTimeout, longer than the admin
	// server's write limit allows for an answer: this request, and only
	// this one, gets the time it asked for plus a margin to write the answer.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + drainWriteMargin)); err != nil {
		s.log.Warn("edge: drain cannot extend its write deadline", "error", err)
	}
	name := r.PathValue("name")
	n, err := s.Drain(r.Context(), name, timeout)
	if err != nil {
		writeError(w, statusFor(err), err)
		return
	}
	writeJSON(w, http.StatusOK, DrainResponse{Backend: name, InFlight: n, Drained: n == 0})
}

func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	s.mu.RLock()
	rows := make([]metricsRow, 0, len(s.backends))
	for _, b := range s.backends {
		rows = append(rows, metricsRow{name: b.spec.Name, weight: b.spec.Weight, inflight: b.inflight.Load(), stats: b.stats})
	}
	s.mu.RUnlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = writeMetrics(w, rows)
}

func statusFor(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// readJSON decodes a small body strictly; an empty body is an empty request.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: body: %v", ErrInvalid, err))
		return false
	}
	return true
}

// ErrorResponse is the body of every non-2xx admin answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, ErrorResponse{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
