package haproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/activities/traffic"
	"github.com/runbookhq/runbook/activities/traffic/haproxy"
	"github.com/runbookhq/runbook/internal/testenv/haproxyd"
)

// stack is a real HAProxy in front of two counting backends, a and b.
// Requests to /block on a wait until release is closed.
type stack struct {
	h       *haproxyd.HAProxy
	hits    map[string]*atomic.Int64
	entered chan struct{}
	release chan struct{}
	client  *http.Client
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{
		hits:    map[string]*atomic.Int64{"a": {}, "b": {}},
		entered: make(chan struct{}, 1),
		release: make(chan struct{}),
		// No keep-alive: every request is balanced on its own.
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second},
	}
	var servers []haproxyd.Server
	for _, name := range []string{"a", "b"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.hits[name].Add(1)
			if r.URL.Path == "/block" {
				s.entered <- struct{}{}
				<-s.release
			}
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		servers = append(servers, haproxyd.Server{Name: name, URL: srv.URL})
	}
	s.h = haproxyd.Start(t, servers...)
	t.Cleanup(func() { s.client.CloseIdleConnections() })
	return s
}

// send makes n requests through the frontend and returns the hits per
// backend they caused.
func (s *stack) send(t *testing.T, n int) map[string]int64 {
	t.Helper()
	before := map[string]int64{"a": s.hits["a"].Load(), "b": s.hits["b"].Load()}
	for range n {
		resp, err := s.client.Get(s.h.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("through haproxy: %s", resp.Status)
		}
	}
	return map[string]int64{"a": s.hits["a"].Load() - before["a"], "b": s.hits["b"].Load() - before["b"]}
}

func router(t *testing.T, opts map[string]string) traffic.Router {
	t.Helper()
	r, err := traffic.New("haproxy", opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestErrorTypesAgree(t *testing.T) {
	if haproxy.ErrTypeInvalid != traffic.ErrTypeInvalid {
		t.Fatalf("haproxy.ErrTypeInvalid %q != %q", haproxy.ErrTypeInvalid, traffic.ErrTypeInvalid)
	}
}

func TestSetWeightsRoutesTraffic(t *testing.T) {
	s := newStack(t)
	r := router(t, s.h.Options())
	ctx := context.Background()
	for _, tc := range []struct {
		weights map[string]int
		want    map[string]int64
	}{
		{map[string]int{"a": 100, "b": 0}, map[string]int64{"a": 40, "b": 0}},
		{map[string]int{"a": 0, "b": 100}, map[string]int64{"a": 0, "b": 40}},
	} {
		if err := r.SetWeights(ctx, tc.weights); err != nil {
			t.Fatal(err)
		}
		got, err := r.Weights(ctx)
		if err != nil || !reflect.DeepEqual(got, tc.weights) {
			t.Fatalf("read back %v %v, want %v", got, err, tc.weights)
		}
		if hits := s.send(t, 40); !reflect.DeepEqual(hits, tc.want) {
			t.Fatalf("weights %v: hits %v, want %v", tc.weights, hits, tc.want)
		}
	}
	// Every percentage reads back exactly.
	for w := 0; w <= 100; w++ {
		if err := r.SetWeights(ctx, map[string]int{"a": w, "b": 100 - w}); err != nil {
			t.Fatalf("weight %d: %v", w, err)
		}
	}
}

func TestWeightsSurviveReload(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	want := map[string]int{"a": 100, "b": 0}

	// Without the state file, a reload forgets runtime weights.
	opts := s.h.Options()
	delete(opts, haproxy.OptStateFile)
	if err := router(t, opts).SetWeights(ctx, want); err != nil {
		t.Fatal(err)
	}
	s.h.Reload(t)
	r := router(t, s.h.Options())
	got, err := r.Weights(ctx)
	initial := map[string]int{"a": haproxyd.InitialWeight, "b": haproxyd.InitialWeight}
	if err != nil || !reflect.DeepEqual(got, initial) {
		t.Fatalf("after reload without state file: %v %v, want the configured %v", got, err, initial)
	}

	// With it, they are kept.
	if err := r.SetWeights(ctx, want); err != nil {
		t.Fatal(err)
	}
	s.h.Reload(t)
	got, err = r.Weights(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reload with state file: %v %v, want %v", got, err, want)
	}
	if hits := s.send(t, 20); hits["b"] != 0 || hits["a"] != 20 {
		t.Fatalf("after reload: hits %v, want all on a", hits)
	}
}

func TestDrainWaitsForInFlight(t *testing.T) {
	s := newStack(t)
	r := router(t, s.h.Options())
	ctx := context.Background()
	if err := r.SetWeights(ctx, map[string]int{"a": 100, "b": 0}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := s.client.Get(s.h.URL + "/block")
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	t.Cleanup(wg.Wait)
	released := false
	t.Cleanup(func() {
		if !released {
			close(s.release)
		}
	})
	<-s.entered

	// A short wait ends with the request still running.
	n, err := r.Drain(ctx, "a", 300*time.Millisecond)
	if err != nil || n != 1 {
		t.Fatalf("short drain: %d %v, want 1 in flight", n, err)
	}
	if w, err := r.Weights(ctx); err != nil || w["a"] != 0 {
		t.Fatalf("weights after drain: %v %v, want a=0", w, err)
	}

	// A long one returns as soon as the request finishes.
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := r.Drain(ctx, "a", 30*time.Second)
		done <- result{n, err}
	}()
	close(s.release)
	released = true
	res := <-done
	if res.err != nil || res.n != 0 {
		t.Fatalf("drain: %d %v, want 0 in flight", res.n, res.err)
	}
}

func TestInvalidRequests(t *testing.T) {
	s := newStack(t)
	r := router(t, s.h.Options())
	ctx := context.Background()
	before, err := r.Weights(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, r.SetWeights(ctx, map[string]int{"a": 50, "c": 50}), "backend app has no server c; its servers: a, b")
	_, err = r.Drain(ctx, "c", time.Second)
	wantInvalid(t, err, "has no server c")
	wantInvalid(t, r.SetWeights(ctx, map[string]int{"a": 101}), "weight 101 out of range 0..100")
	wantInvalid(t, r.SetWeights(ctx, map[string]int{"b": -1}), "weight -1 out of range 0..100")
	if after, err := r.Weights(ctx); err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("invalid requests changed weights: %v -> %v (%v)", before, after, err)
	}
	opts := s.h.Options()
	opts[haproxy.OptBackend] = "nope"
	_, err = router(t, opts).Weights(ctx)
	wantInvalid(t, err, `backend "nope" not found`)
}

// TestActivities runs the traffic activities in the SDK's activity test
// environment against a real HAProxy.
func TestActivities(t *testing.T) {
	s := newStack(t)
	target := traffic.Target{Provider: "haproxy", Options: s.h.Options()}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(&traffic.Activities{})
	var acts *traffic.Activities

	v, err := env.ExecuteActivity(acts.SetWeights, traffic.SetWeightsInput{Target: target, Weights: map[string]int{"a": 25, "b": 75}})
	if err != nil {
		t.Fatal(err)
	}
	var set traffic.SetWeightsResult
	if err := v.Get(&set); err != nil || !reflect.DeepEqual(set.Weights, map[string]int{"a": 25, "b": 75}) {
		t.Fatalf("SetWeights: %+v %v", set, err)
	}
	v, err = env.ExecuteActivity(acts.Drain, traffic.DrainInput{Target: target, Backend: "b", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var dr traffic.DrainResult
	if err := v.Get(&dr); err != nil || !dr.Drained || dr.InFlight != 0 {
		t.Fatalf("Drain: %+v %v", dr, err)
	}
	v, err = env.ExecuteActivity(acts.Weights, traffic.WeightsInput{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	var ws traffic.WeightsResult
	if err := v.Get(&ws); err != nil || !reflect.DeepEqual(ws.Weights, map[string]int{"a": 25, "b": 0}) {
		t.Fatalf("Weights: %+v %v", ws, err)
	}
	_, err = env.ExecuteActivity(acts.SetWeights, traffic.SetWeightsInput{Target: target, Weights: map[string]int{"zz": 1}})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != traffic.ErrTypeInvalid || !ae.NonRetryable() || !strings.Contains(ae.Message(), "its servers: a, b") {
		t.Fatalf("unknown server through the activity: %v", err)
	}
}

func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != haproxy.ErrTypeInvalid || !ae.NonRetryable() {
		t.Fatalf("%v, want non-retryable %s", err, haproxy.ErrTypeInvalid)
	}
	if !strings.Contains(ae.Message(), msg) {
		t.Fatalf("%q does not contain %q", ae.Message(), msg)
	}
}
