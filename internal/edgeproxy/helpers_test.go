package edgeproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "test-token-6d1f-4b2a9c8e7d6f5a4b3c2d"

// upstream is a test backend that answers with its name and counts hits.
type upstream struct {
	name string
	srv  *httptest.Server
	hits atomic.Int64
}

func newUpstream(t testing.TB, name string, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{name: name}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// startEdge starts a Server on free 127.0.0.1 ports and stops it at cleanup.
func startEdge(t testing.TB, stateFile string) *Server {
	t.Helper()
	if stateFile == "" {
		stateFile = filepath.Join(t.TempDir(), "edge.json")
	}
	s, err := New(Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: testToken, StateFile: stateFile, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopEdge(t, s) })
	return s
}

func stopEdge(t testing.TB, s *Server) {
	t.Helper()
	// A client connection dialled but never used is "new" to the server,
	// and Shutdown waits up to 5 s for those: close them first.
	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// adminCall sends one admin request and returns the status and body.
func adminCall(t testing.TB, s *Server, method, path, token string, body any) (int, []byte) {
	t.Helper()
	code, out, err := tryAdmin(s, method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

// tryAdmin is adminCall for goroutines, which must not call t.Fatal.
func tryAdmin(s *Server, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.AdminAddr()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// mustAdmin is adminCall that expects 200.
func mustAdmin(t testing.TB, s *Server, method, path string, body any) []byte {
	t.Helper()
	code, out := adminCall(t, s, method, path, testToken, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	return out
}

func putBackend(t testing.TB, s *Server, name, url string, weight int) {
	t.Helper()
	mustAdmin(t, s, http.MethodPut, "/v1/backends/"+name, PutRequest{URL: url, Weight: &weight})
}

func setWeights(t testing.TB, s *Server, w map[string]int) {
	t.Helper()
	mustAdmin(t, s, http.MethodPut, "/v1/weights", WeightsRequest{Weights: w})
}

// hitProxy sends n requests through the proxy and counts answers by body.
func hitProxy(t testing.TB, s *Server, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		code, body := get(t, "http://"+s.ProxyAddr()+"/")
		if code != http.StatusOK {
			got[http.StatusText(code)]++
			continue
		}
		got[body]++
	}
	return got
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	code, body, err := tryGet(url)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// tryGet is get for goroutines, which must not call t.Fatal.
func tryGet(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// drain reads and closes a body so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
