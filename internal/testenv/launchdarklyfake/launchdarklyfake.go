// Package launchdarklyfake is LaunchDarkly's REST API v2 for tests, in
// process on 127.0.0.1: exactly the flag endpoints runbook's LaunchDarkly
// provider calls, written from LaunchDarkly's published API reference
// (https://launchdarkly.com/docs/api/feature-flags: get, create, delete and
// patch a flag, with semantic patch instructions
// https://launchdarkly.com/docs/api/feature-flags/patch-feature-flag and
// JSON Patch). It checks the Authorization header (401 otherwise), keeps
// state, records each change's comment, and fails the test on any other
// request or instruction, so a provider sending something LaunchDarkly
// would not take fails its test.
package launchdarklyfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Server is the fake LaunchDarkly.
type Server struct {
	*httptest.Server
	// Token is the API access token requests must carry.
	Token string

	t        testing.TB
	mu       sync.Mutex
	envs     []string
	flags    map[string]*Flag // by project + "/" + key
	comments []string
	nextID   int
}

// Flag is a feature flag as the API shows it, its environments included.
type Flag struct {
	Key          string              `json:"key"`
	Name         string              `json:"name"`
	Kind         string              `json:"kind"`
	Description  string              `json:"description,omitempty"`
	Temporary    bool                `json:"temporary"`
	Variations   []Variation         `json:"variations"`
	Version      int                 `json:"_version"`
	Environments map[string]*FlagEnv `json:"environments"`
}

// Variation is one value a flag can serve.
type Variation struct {
	ID    string `json:"_id"`
	Value any    `json:"value"`
	Name  string `json:"name,omitempty"`
}

// FlagEnv is a flag's targeting in one environment.
type FlagEnv struct {
	On             bool        `json:"on"`
	OffVariation   *int        `json:"offVariation,omitempty"`
	Fallthrough    Fallthrough `json:"fallthrough"`
	Rules          []Rule      `json:"rules"`
	Targets        []any       `json:"targets"`
	ContextTargets []any       `json:"contextTargets"`
	Prerequisites  []any       `json:"prerequisites"`
	Version        int         `json:"version"`
	Salt           string      `json:"salt"`
}

// Fallthrough is the default rule: one variation or a percentage rollout.
type Fallthrough struct {
	Variation *int     `json:"variation,omitempty"`
	Rollout   *Rollout `json:"rollout,omitempty"`
}

// Rollout splits contexts between variations by weight (thousandths of a
// percent: the weights add up to 100000).
type Rollout struct {
	Variations  []Weighted `json:"variations"`
	BucketBy    string     `json:"bucketBy,omitempty"`
	ContextKind string     `json:"contextKind,omitempty"`
}

// Weighted is one variation's share of a rollout.
type Weighted struct {
	Variation int `json:"variation"`
	Weight    int `json:"weight"`
}

// Rule is a targeting rule: clauses that all match, and what to serve.
type Rule struct {
	ID          string   `json:"_id"`
	Variation   *int     `json:"variation,omitempty"`
	Rollout     *Rollout `json:"rollout,omitempty"`
	Clauses     []Clause `json:"clauses"`
	Description string   `json:"description,omitempty"`
	TrackEvents bool     `json:"trackEvents"`
}

// Clause is one condition of a rule (op segmentMatch: the context is in
// one of the segments named by key in Values).
type Clause struct {
	ID          string `json:"_id"`
	ContextKind string `json:"contextKind,omitempty"`
	Attribute   string `json:"attribute"`
	Op          string `json:"op"`
	Values      []any  `json:"values"`
	Negate      bool   `json:"negate"`
}

// New starts a fake whose project has the named environments ("test" and
// "production", LaunchDarkly's defaults, when none) and that accepts
// token; the test's cleanup stops it.
func New(t testing.TB, token string, environments ...string) *Server {
	if len(environments) == 0 {
		environments = []string{"test", "production"}
	}
	s := &Server{Token: token, t: t, envs: environments, flags: map[string]*Flag{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/flags/{project}/{key}", s.getFlag)
	mux.HandleFunc("POST /api/v2/flags/{project}", s.createFlag)
	mux.HandleFunc("PATCH /api/v2/flags/{project}/{key}", s.patchFlag)
	mux.HandleFunc("DELETE /api/v2/flags/{project}/{key}", s.deleteFlag)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.t.Errorf("launchdarklyfake: unknown request %s %s", r.Method, r.URL.Path)
		reply(w, http.StatusNotImplemented, apiError("not_implemented", "launchdarklyfake: no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	s.Server = httptest.NewServer(s.auth(mux))
	t.Cleanup(s.Close)
	return s
}

// auth answers 401 unless Authorization is the token, as LaunchDarkly
// does for API access tokens.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != s.Token {
			reply(w, http.StatusUnauthorized, apiError("unauthorized", "Invalid access token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Put stores a flag as a person made it (tests' starting state): ids are
// assigned where missing and environments it does not name are added off.
func (s *Server) Put(project string, f Flag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range f.Variations {
		if f.Variations[i].ID == "" {
			f.Variations[i].ID = s.id()
		}
	}
	if f.Environments == nil {
		f.Environments = map[string]*FlagEnv{}
	}
	for _, e := range f.Environments {
		s.assignIDs(e.Rules)
	}
	s.addMissingEnvs(&f, 0, 1)
	s.flags[project+"/"+f.Key] = &f
}

// Flag returns a copy of a flag, or false when there is none.
func (s *Server) Flag(project, key string) (Flag, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flags[project+"/"+key]
	if !ok {
		return Flag{}, false
	}
	var c Flag
	b, _ := json.Marshal(f)
	_ = json.Unmarshal(b, &c)
	return c, true
}

// Comments are the comments of the changes made, in order.
func (s *Server) Comments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.comments...)
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%024x", s.nextID)
}

func (s *Server) assignIDs(rules []Rule) {
	for i := range rules {
		if rules[i].ID == "" {
			rules[i].ID = s.id()
		}
		for j := range rules[i].Clauses {
			if rules[i].Clauses[j].ID == "" {
				rules[i].Clauses[j].ID = s.id()
			}
		}
	}
}

// addMissingEnvs gives f every environment it lacks: off, serving the on
// variation by default, as a new flag starts.
func (s *Server) addMissingEnvs(f *Flag, onVariation, offVariation int) {
	for _, name := range s.envs {
		if f.Environments[name] == nil {
			on, off := onVariation, offVariation
			f.Environments[name] = &FlagEnv{OffVariation: &off, Fallthrough: Fallthrough{Variation: &on}, Rules: []Rule{},
				Targets: []any{}, ContextTargets: []any{}, Prerequisites: []any{}, Version: 1, Salt: s.id()}
		}
	}
}

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func apiError(code, msg string) map[string]string {
	return map[string]string{"code": code, "message": msg}
}
