// Package edgeproxy is runbook's embedded traffic router: a local L7 reverse proxy
// with weighted backends. Weights change live through a token-protected admin
// API, are persisted to a state file on every change (a restart keeps them),
// backends drain without dropping requests, and each backend's golden signals
// (requests by code class, latency histogram, weight, in-flight) are served at
// /metrics in the Prometheus text format.
package edgeproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runbookhq/runbook/internal/httpserver"
)

// Config configures a Server.
type Config struct {
	// Listen is the proxy address, e.g. 127.0.0.1:8080 (port 0 picks one).
	Listen string
	// Admin is the admin API and /metrics address, e.g. 127.0.0.1:8081.
	Admin string
	// Token guards the admin API (Authorization: Bearer <token>). Required,
	// and at least MinTokenLen bytes long (see CheckToken).
	Token string
	// StateFile persists the backends and weights. Required.
	StateFile string
	// Seed seeds the weighted choice; 0 picks a random seed. Tests set it so
	// a run is reproducible.
	Seed uint64
	// Transport carries proxied requests; nil means a transport with bounded
	// dial and header timeouts.
	Transport http.RoundTripper
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

// backend is one upstream. The pointer is replaced when its URL changes, but
// stats and the in-flight counter carry over so metrics stay continuous.
type backend struct {
	spec     BackendSpec
	proxy    *httputil.ReverseProxy
	inflight *atomic.Int64
	stats    *stats
}

// Server is the proxy plus its admin API.
type Server struct {
	cfg       Config
	log       *slog.Logger
	transport http.RoundTripper

	writeMu  sync.Mutex   // serialises changes so persist order equals apply order
	mu       sync.RWMutex // guards backends for the request path
	backends map[string]*backend

	rngMu sync.Mutex
	rng   *rand.Rand

	// adminLimits bound the admin server's connections: httpserver.Endpoint;
	// tests shorten them to reach a limit quickly.
	adminLimits httpserver.Limits

	run *listeners // set by Start
}

// MinTokenLen is the shortest admin token accepted, in bytes: the admin API
// moves production traffic, and 32 bytes is what `openssl rand -hex 16`
// gives at the least (128 bits); `openssl rand -hex 32` is what we suggest.
const MinTokenLen = 32

// CheckToken refuses an admin token shorter than MinTokenLen, saying how to
// make a good one. The server enforces it, so no caller can start an admin
// API guarded by a guessable token.
func CheckToken(token string) error {
	if token == "" {
		return errors.New("edge: an admin token is required; make one with: openssl rand -hex 32")
	}
	if len(token) < MinTokenLen {
		return fmt.Errorf("edge: the admin token is %d bytes, and at least %d are required; make one with: openssl rand -hex 32", len(token), MinTokenLen)
	}
	return nil
}

// New loads the state file and returns a Server ready to Start. Nothing is
// listening yet.
func New(cfg Config) (*Server, error) {
	if err := CheckToken(cfg.Token); err != nil {
		return nil, err
	}
	if cfg.StateFile == "" {
		return nil, errors.New("edge: a state file is required")
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, transport: cfg.Transport, backends: map[string]*backend{}, adminLimits: httpserver.Endpoint}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.transport == nil {
		s.transport = defaultTransport()
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, b := range st.Backends {
		s.backends[b.Name] = s.newBackend(b, nil)
	}
	return s, nil
}

// defaultTransport bounds connection setup and time to first byte; bodies
// may stream for as long as the client keeps reading.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// newBackend builds the proxy for spec, keeping counters from prev if any.
func (s *Server) newBackend(spec BackendSpec, prev *backend) *backend {
	u, _ := url.Parse(spec.URL) // validated before we get here
	b := &backend{spec: spec, inflight: new(atomic.Int64), stats: newStats()}
	if prev != nil {
		b.inflight, b.stats = prev.inflight, prev.stats
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		Transport: s.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Warn("edge: backend error", "backend", spec.Name, "err", err)
			http.Error(w, "edge: backend "+spec.Name+" unavailable", http.StatusBadGateway)
		},
	}
	return b
}

// Backends reports every backend with its weight and in-flight count,
// sorted by name.
func (s *Server) Backends() []BackendStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]BackendStatus, 0, len(s.backends))
	for _, b := range s.backends {
		out = append(out, BackendStatus{BackendSpec: b.spec, InFlight: b.inflight.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// BackendStatus is a backend as GET /v1/backends reports it.
type BackendStatus struct {
	BackendSpec
	InFlight int64 `json:"inflight"`
}

// Put creates a backend or changes its URL and weight. An empty URL keeps
// the current one (and is an error for a new backend).
func (s *Server) Put(spec BackendSpec) error {
	return s.change(func(next map[string]BackendSpec) error {
		if spec.URL == "" {
			cur, ok := next[spec.Name]
			if !ok {
				return fmt.Errorf("%w: backend %q does not exist yet: give its url", ErrInvalid, spec.Name)
			}
			spec.URL = cur.URL
		}
		if err := spec.validate(); err != nil {
			return err
		}
		next[spec.Name] = spec
		return nil
	})
}

// SetWeights changes several weights in one step: all are validated first,
// then applied and persisted together, so a shift from 100/0 to 0/100 never
// passes through 0/0.
func (s *Server) SetWeights(weights map[string]int) error {
	return s.change(func(next map[string]BackendSpec) error {
		for name, w := range weights {
			b, ok := next[name]
			if !ok {
				return fmt.Errorf("%w: %q", ErrNotFound, name)
			}
			if err := validateWeight(name, w); err != nil {
				return err
			}
			b.Weight = w
			next[name] = b
		}
		return nil
	})
}

// Delete removes a backend. Requests already sent to it finish.
func (s *Server) Delete(name string) error {
	return s.change(func(next map[string]BackendSpec) error {
		if _, ok := next[name]; !ok {
			return fmt.Errorf("%w: %q", ErrNotFound, name)
		}
		delete(next, name)
		return nil
	})
}

// change applies edit to a copy of the specs, persists the result, and only
// then swaps it in: a change that cannot be saved does not take effect.
func (s *Server) change(edit func(map[string]BackendSpec) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	next := s.specs()
	if err := edit(next); err != nil {
		return err
	}
	st := state{Backends: make([]BackendSpec, 0, len(next))}
	for _, b := range next {
		st.Backends = append(st.Backends, b)
	}
	if err := saveState(s.cfg.StateFile, st); err != nil {
		return fmt.Errorf("edge: persist state: %w", err)
	}
	s.apply(next)
	return nil
}

func (s *Server) specs() map[string]BackendSpec {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := make(map[string]BackendSpec, len(s.backends))
	for n, b := range s.backends {
		m[n] = b.spec
	}
	return m
}

// apply installs next, reusing backends whose URL did not change.
func (s *Server) apply(next map[string]BackendSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]*backend, len(next))
	for name, spec := range next {
		prev := s.backends[name]
		switch {
		case prev != nil && prev.spec.URL == spec.URL:
			cp := *prev
			cp.spec = spec
			m[name] = &cp
		default:
			m[name] = s.newBackend(spec, prev)
		}
	}
	s.backends = m
}
