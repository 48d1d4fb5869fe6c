package edgeproxy

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"
)

// ProxyHandler returns the handler that routes each request to a backend
// chosen at random in proportion to the weights.
func (s *Server) ProxyHandler() http.Handler {
	return http.HandlerFunc(s.serveProxy)
}

func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request) {
	b := s.pick()
	if b == nil {
		http.Error(w, "edge: no backend has a weight above 0", http.StatusServiceUnavailable)
		return
	}
	defer b.inflight.Add(-1)
	rec := &statusRecorder{ResponseWriter: w}
	start := time.Now()
	b.proxy.ServeHTTP(rec, r)
	b.stats.observe(rec.statusCode(), time.Since(start))
}

// pick chooses a backend and counts it in flight before releasing the read
// lock, so a drain that has set the weight to 0 sees every request that
// could still reach the backend.
func (s *Server) pick() *backend {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.backends))
	total := 0
	for n, b := range s.backends {
		if b.spec.Weight > 0 {
			names = append(names, n)
			total += b.spec.Weight
		}
	}
	if total == 0 {
		return nil
	}
	sort.Strings(names) // map order is random; the seeded choice must not be
	s.rngMu.Lock()
	x := s.rng.IntN(total)
	s.rngMu.Unlock()
	for _, n := range names {
		b := s.backends[n]
		if x < b.spec.Weight {
			b.inflight.Add(1)
			return b
		}
		x -= b.spec.Weight
	}
	return nil // unreachable: x < total
}

// Drain sets the backend's weight to 0, then waits until its in-flight count
// reaches 0, the timeout passes or ctx ends. It returns the requests still in
// flight; 0 means the backend is drained.
func (s *Server) Drain(ctx context.Context, name string, timeout time.Duration) (int, error) {
	if err := s.SetWeights(map[string]int{name: 0}); err != nil {
		return 0, err
	}
	s.mu.RLock()
	b := s.backends[name]
	s.mu.RUnlock()
	if b == nil {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, name) // deleted meanwhile
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := b.inflight.Load()
		if n == 0 {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return int(b.inflight.Load()), nil
		case <-tick.C:
		}
	}
}

// statusRecorder remembers the status code for the metrics. Unwrap lets
// http.ResponseController reach Flush and friends for streaming responses.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Flush forwards to the underlying writer; ReverseProxy flushes streaming
// responses through it.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
