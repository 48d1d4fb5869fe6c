package edgeproxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWeightedRouting(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	s := startEdge(t, "")
	putBackend(t, s, "a", a.srv.URL, 100)
	putBackend(t, s, "b", b.srv.URL, 0)

	if got := hitProxy(t, s, 200); got["a"] != 200 {
		t.Fatalf("100/0: got %v, want all on a", got)
	}
	setWeights(t, s, map[string]int{"a": 0, "b": 100})
	if got := hitProxy(t, s, 200); got["b"] != 200 {
		t.Fatalf("0/100: got %v, want all on b", got)
	}
	setWeights(t, s, map[string]int{"a": 80, "b": 20})
	got := hitProxy(t, s, 2000)
	// Expected 1600 on a; one standard deviation is ~18, so ±100 is >5σ.
	if got["a"]+got["b"] != 2000 || got["a"] < 1500 || got["a"] > 1700 {
		t.Fatalf("80/20 over 2000: got %v, want a in 1500..1700", got)
	}
}

func TestNoWeightIs503(t *testing.T) {
	a := newUpstream(t, "a", nil)
	s := startEdge(t, "")
	if code, _ := get(t, "http://"+s.ProxyAddr()+"/"); code != http.StatusServiceUnavailable {
		t.Fatalf("no backends: %d, want 503", code)
	}
	putBackend(t, s, "a", a.srv.URL, 0)
	putBackend(t, s, "b", a.srv.URL, 0)
	if code, _ := get(t, "http://"+s.ProxyAddr()+"/"); code != http.StatusServiceUnavailable {
		t.Fatalf("0/0: %d, want 503", code)
	}
	if a.hits.Load() != 0 {
		t.Fatalf("backend hit %d times at weight 0", a.hits.Load())
	}
}

func TestAdminAuth(t *testing.T) {
	s := startEdge(t, "")
	for _, tok := range []string{"", "wrong", testToken + "x"} {
		if code, _ := adminCall(t, s, http.MethodGet, "/v1/backends", tok, nil); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	w := 10
	if code, _ := adminCall(t, s, http.MethodPut, "/v1/backends/a", "", PutRequest{URL: "http://127.0.0.1:1", Weight: &w}); code != http.StatusUnauthorized {
		t.Errorf("unauthenticated PUT: %d, want 401", code)
	}
	if len(s.Backends()) != 0 {
		t.Fatal("unauthenticated PUT changed the backends")
	}
	if code, _ := adminCall(t, s, http.MethodGet, "/v1/backends", testToken, nil); code != http.StatusOK {
		t.Errorf("right token: %d, want 200", code)
	}
}

func TestAdminValidation(t *testing.T) {
	s := startEdge(t, "")
	w101, w50 := 101, 50
	cases := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"weight too high", http.MethodPut, "/v1/backends/a", PutRequest{URL: "http://127.0.0.1:1", Weight: &w101}, 400},
		{"bad scheme", http.MethodPut, "/v1/backends/a", PutRequest{URL: "ftp://x", Weight: &w50}, 400},
		{"new without url", http.MethodPut, "/v1/backends/a", PutRequest{Weight: &w50}, 400},
		{"no weight", http.MethodPut, "/v1/backends/a", PutRequest{URL: "http://127.0.0.1:1"}, 400},
		{"bad name", http.MethodPut, "/v1/backends/a%20b", PutRequest{URL: "http://127.0.0.1:1", Weight: &w50}, 400},
		{"unknown field", http.MethodPut, "/v1/backends/a", map[string]any{"weight": 1, "url": "http://127.0.0.1:1", "x": 1}, 400},
		{"weights unknown backend", http.MethodPut, "/v1/weights", WeightsRequest{Weights: map[string]int{"zz": 1}}, 404},
		{"drain unknown", http.MethodPost, "/v1/backends/zz/drain", DrainRequest{Timeout: "1s"}, 404},
		{"drain bad timeout", http.MethodPost, "/v1/backends/zz/drain", DrainRequest{Timeout: "soon"}, 400},
		{"delete unknown", http.MethodDelete, "/v1/backends/zz", nil, 404},
	}
	for _, tc := range cases {
		if code, body := adminCall(t, s, tc.method, tc.path, testToken, tc.body); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	if _, err := os.Stat(s.cfg.StateFile); !os.IsNotExist(err) {
		t.Fatalf("rejected changes wrote the state file: %v", err)
	}
}

func TestWeightsPersistAcrossRestart(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	state := filepath.Join(t.TempDir(), "edge.json")
	s1 := startEdge(t, state)
	putBackend(t, s1, "a", a.srv.URL, 100)
	putBackend(t, s1, "b", b.srv.URL, 100)
	setWeights(t, s1, map[string]int{"a": 0, "b": 100})
	before := s1.Backends()
	stopEdge(t, s1)

	s2 := startEdge(t, state)
	after := s2.Backends()
	if len(after) != 2 || after[0] != before[0] || after[1] != before[1] {
		t.Fatalf("after restart %v, want %v", after, before)
	}
	if got := hitProxy(t, s2, 50); got["b"] != 50 {
		t.Fatalf("after restart: %v, want all on b", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(state))
	if len(entries) != 1 {
		t.Fatalf("state dir holds %d entries, want only the state file (no temp files left)", len(entries))
	}
}

func TestDeleteBackend(t *testing.T) {
	a := newUpstream(t, "a", nil)
	s := startEdge(t, "")
	putBackend(t, s, "a", a.srv.URL, 100)
	mustAdmin(t, s, http.MethodDelete, "/v1/backends/a", nil)
	if code, _ := get(t, "http://"+s.ProxyAddr()+"/"); code != http.StatusServiceUnavailable {
		t.Fatalf("after delete: %d, want 503", code)
	}
}

func TestDrainWaitsForInflight(t *testing.T) {
	release := make(chan struct{})
	a := newUpstream(t, "a", func(w http.ResponseWriter, _ *http.Request) {
		<-release
		_, _ = w.Write([]byte("a"))
	})
	b := newUpstream(t, "b", nil)
	s := startEdge(t, "")
	putBackend(t, s, "a", a.srv.URL, 100)
	putBackend(t, s, "b", b.srv.URL, 0)

	reqDone := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + s.ProxyAddr() + "/")
		if err != nil {
			reqDone <- 0
			return
		}
		resp.Body.Close()
		reqDone <- resp.StatusCode
	}()
	waitFor(t, "request in flight on a", func() bool { return s.Backends()[0].InFlight == 1 })

	// A drain with a short timeout gives up and reports the request.
	var short DrainResponse
	decode(t, mustAdmin(t, s, http.MethodPost, "/v1/backends/a/drain", DrainRequest{Timeout: "20ms"}), &short)
	if short.InFlight != 1 || short.Drained {
		t.Fatalf("short drain: %+v, want 1 in flight", short)
	}
	setWeights(t, s, map[string]int{"b": 100}) // new traffic goes to b meanwhile

	drained := make(chan DrainResponse, 1)
	go func() {
		var r DrainResponse
		code, body, err := tryAdmin(s, http.MethodPost, "/v1/backends/a/drain", testToken, DrainRequest{Timeout: "30s"})
		if err == nil && code == http.StatusOK {
			_ = json.Unmarshal(body, &r)
		}
		drained <- r
	}()
	if got := hitProxy(t, s, 20); got["b"] != 20 {
		t.Fatalf("while draining: %v, want all on b", got)
	}
	select {
	case r := <-drained:
		t.Fatalf("drain returned %+v while a request was in flight", r)
	default:
	}
	close(release)
	if r := <-drained; r.InFlight != 0 || !r.Drained {
		t.Fatalf("drain: %+v, want drained", r)
	}
	if code := <-reqDone; code != http.StatusOK {
		t.Fatalf("in-flight request: %d, want 200", code)
	}
}

func decode(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

func TestConcurrentRequestsAndChanges(t *testing.T) {
	a, b := newUpstream(t, "a", nil), newUpstream(t, "b", nil)
	s := startEdge(t, "")
	putBackend(t, s, "a", a.srv.URL, 100)
	putBackend(t, s, "b", b.srv.URL, 0)
	const workers, per = 8, 50
	var wg sync.WaitGroup
	errs := make(chan string, workers*per)
	for range workers {
		wg.Go(func() {
			for range per {
				if code, body, err := tryGet("http://" + s.ProxyAddr() + "/"); err != nil || code != http.StatusOK {
					errs <- fmt.Sprint(code, body, err)
				}
			}
		})
	}
	stop := make(chan struct{})
	var changer sync.WaitGroup
	changer.Go(func() { flipWeights(t, s, stop) })
	wg.Wait()
	close(stop)
	changer.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("request failed during weight changes: %s", e)
	}
	if n := a.hits.Load() + b.hits.Load(); n != workers*per {
		t.Fatalf("backends saw %d requests, want %d", n, workers*per)
	}
}

// flipWeights shifts all traffic back and forth and scrapes metrics until
// stop closes. Each shift is one atomic change, so no request may see 0/0.
func flipWeights(t testing.TB, s *Server, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		w := map[string]int{"a": 100 * (i % 2), "b": 100 * ((i + 1) % 2)}
		if err := s.SetWeights(w); err != nil {
			t.Error(err)
			return
		}
		if _, _, err := tryGet("http://" + s.AdminAddr() + "/metrics"); err != nil {
			t.Error(err)
			return
		}
	}
}

// TestNewRefusesShortToken: the admin API moves traffic, so a token shorter
// than 32 bytes is refused by the server itself, with how to make one.
func TestNewRefusesShortToken(t *testing.T) {
	state := filepath.Join(t.TempDir(), "edge.json")
	for _, tok := range []string{"", "tok-5f2a", strings.Repeat("x", MinTokenLen-1)} {
		_, err := New(Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: tok, StateFile: state})
		if err == nil || !strings.Contains(err.Error(), "openssl rand -hex 32") {
			t.Errorf("token of %d bytes: got %v, want a refusal saying how to make one", len(tok), err)
		}
	}
	if _, err := New(Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: strings.Repeat("x", MinTokenLen), StateFile: state}); err != nil {
		t.Errorf("token of %d bytes: %v", MinTokenLen, err)
	}
}
