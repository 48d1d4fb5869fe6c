// Package unleashfake is an Unleash Admin API for tests, in process on
// 127.0.0.1: exactly the endpoints runbook's Unleash flag provider calls,
// written from Unleash's published API reference
// (https://docs.getunleash.io/reference/api/unleash: features, feature
// environments and their strategies, archive and delete, segments). It
// checks the Authorization header (401 otherwise), keeps state, and fails
// the test on any other request, so a provider calling a wrong endpoint or
// a wrong body fails its test instead of passing against a lenient fake.
package unleashfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Server is the fake Unleash.
type Server struct {
	*httptest.Server
	// Token is the admin token requests must carry.
	Token string

	t            testing.TB
	mu           sync.Mutex
	envs         []string
	features     map[string]*Feature // by project + "/" + name
	archived     map[string]*Feature
	segments     []Segment
	nextStrategy int
	changes      int
}

// Feature is a feature flag as the Admin API shows it.
type Feature struct {
	Name         string         `json:"name"`
	Project      string         `json:"project"`
	Type         string         `json:"type"`
	Description  string         `json:"description,omitempty"`
	Environments []*Environment `json:"environments"`
}

// Environment is a feature's configuration in one environment.
type Environment struct {
	Name       string     `json:"name"`
	Enabled    bool       `json:"enabled"`
	Strategies []Strategy `json:"strategies"`
}

// Strategy is an activation strategy: name, parameters (strings),
// constraints, segment ids, variants, as Unleash stores them. Fields the
// fake does not interpret are kept as sent.
type Strategy map[string]any

// Segment is a reusable set of constraints, referenced by id.
type Segment struct {
	ID          int               `json:"id"`
	Name        string            `json:"name"`
	Constraints []json.RawMessage `json:"constraints"`
}

// New starts a fake whose projects have the named environments (Unleash's
// default pair when none) and that accepts token; the test's cleanup
// stops it.
func New(t testing.TB, token string, environments ...string) *Server {
	if len(environments) == 0 {
		environments = []string{"development", "production"}
	}
	s := &Server{Token: token, t: t, envs: environments, features: map[string]*Feature{}, archived: map[string]*Feature{}}
	mux := http.NewServeMux()
	const feature = "/api/admin/projects/{project}/features/{feature}"
	const env = feature + "/environments/{env}"
	mux.HandleFunc("GET "+feature, s.getFeature)
	mux.HandleFunc("POST /api/admin/projects/{project}/features", s.createFeature)
	mux.HandleFunc("DELETE "+feature, s.archiveFeature)
	mux.HandleFunc("POST /api/admin/projects/{project}/delete", s.deleteArchived)
	mux.HandleFunc("POST "+env+"/strategies", s.addStrategy)
	mux.HandleFunc("PUT "+env+"/strategies/{id}", s.updateStrategy)
	mux.HandleFunc("DELETE "+env+"/strategies/{id}", s.deleteStrategy)
	mux.HandleFunc("POST "+env+"/on", s.toggle(true))
	mux.HandleFunc("POST "+env+"/off", s.toggle(false))
	mux.HandleFunc("GET /api/admin/segments", s.listSegments)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.t.Errorf("unleashfake: unknown request %s %s", r.Method, r.URL.Path)
		reply(w, http.StatusNotImplemented, errorBody("unleashfake: no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	s.Server = httptest.NewServer(s.auth(mux))
	t.Cleanup(s.Close)
	return s
}

// auth answers 401 unless the request carries the token, as Unleash does
// (the raw token, or "Bearer " and the token).
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h != s.Token && h != "Bearer "+s.Token {
			reply(w, http.StatusUnauthorized, map[string]string{"name": "AuthenticationRequired",
				"message": "You must log in to use Unleash. Your request had no valid authorization header."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AddSegment defines a segment and returns its id.
func (s *Server) AddSegment(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := len(s.segments) + 1
	s.segments = append(s.segments, Segment{ID: id, Name: name, Constraints: []json.RawMessage{}})
	return id
}

// Put stores a feature as a person made it (tests' starting state);
// environments it does not name are added disabled without strategies.
// Strategies without an id get one.
func (s *Server) Put(f Feature) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range f.Environments {
		for i, st := range e.Strategies {
			if st["id"] == nil {
				e.Strategies[i] = s.withID(st)
			}
		}
	}
	s.addMissingEnvs(&f)
	s.features[f.Project+"/"+f.Name] = &f
}

// Feature returns a copy of a feature, or false when there is none.
func (s *Server) Feature(project, name string) (Feature, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.features[project+"/"+name]
	if !ok {
		return Feature{}, false
	}
	var c Feature
	b, _ := json.Marshal(f)
	_ = json.Unmarshal(b, &c)
	return c, true
}

// Archived reports whether a feature is in the archive.
func (s *Server) Archived(project, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.archived[project+"/"+name]
	return ok
}

// Changes counts the requests that changed state.
func (s *Server) Changes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

func (s *Server) addMissingEnvs(f *Feature) {
	for _, name := range s.envs {
		if !slices.ContainsFunc(f.Environments, func(e *Environment) bool { return e.Name == name }) {
			f.Environments = append(f.Environments, &Environment{Name: name, Strategies: []Strategy{}})
		}
	}
}

func (s *Server) withID(st Strategy) Strategy {
	s.nextStrategy++
	c := Strategy{}
	for k, v := range st {
		c[k] = v
	}
	c["id"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextStrategy)
	return c
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func errorBody(msg string) map[string]string {
	return map[string]string{"name": "NotFoundError", "message": msg}
}
