// Package grafanafake is the part of Grafana's HTTP API runbook uses, for
// tests: POST /api/annotations with a bearer token. Grafana itself is not
// packaged here (its licence), so the fake checks what Grafana checks (the
// token, a JSON body with text) and records each annotation for the test
// to read. It listens on 127.0.0.1 and stops when the test ends.
package grafanafake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Annotation is one annotation as posted.
type Annotation struct {
	// Time is in epoch milliseconds, as Grafana takes it.
	Time int64    `json:"time"`
	Text string   `json:"text"`
	Tags []string `json:"tags"`
}

// Server is the fake Grafana.
type Server struct {
	// URL is its base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Token is the bearer token requests must carry.
	Token string

	mu          sync.Mutex
	annotations []Annotation
	refused     int
}

// Start runs a fake Grafana that accepts token.
func Start(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{Token: token}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/annotations", s.annotate)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// annotate answers as Grafana does: 401 without the token, 400 for a body
// without text, else the new annotation's id.
func (s *Server) annotate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		s.refused++
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	var a Annotation
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil || a.Text == "" {
		http.Error(w, `{"message":"bad request data"}`, http.StatusBadRequest)
		return
	}
	s.annotations = append(s.annotations, a)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": len(s.annotations), "message": "Annotation added"})
}

// Annotations are those accepted so far, in order.
func (s *Server) Annotations() []Annotation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.annotations)
}

// Refused counts the requests refused for a wrong or missing token.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Tagged are the accepted annotations carrying every one of tags.
func (s *Server) Tagged(tags ...string) []Annotation {
	var out []Annotation
	for _, a := range s.Annotations() {
		if !slices.ContainsFunc(tags, func(t string) bool { return !slices.Contains(a.Tags, t) }) {
			out = append(out, a)
		}
	}
	return out
}
