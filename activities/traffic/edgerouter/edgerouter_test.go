package edgerouter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/secretref"
)

const (
	tokenEnv = "EDGE_TEST_TOKEN"
	secret   = "edge-s3cret-91ab-7c4e2f0d8b6a1e3f5a"
)

// startProxy runs a real edge proxy with backends a (100) and b (0).
func startProxy(t *testing.T) *edgeproxy.Server {
	t.Helper()
	s, err := edgeproxy.New(edgeproxy.Config{
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: secret,
		StateFile: filepath.Join(t.TempDir(), "edge.json"), Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	for name, w := range map[string]int{"a": 100, "b": 0} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(up.Close)
		if err := s.Put(edgeproxy.BackendSpec{Name: name, URL: up.URL, Weight: w}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func newRouter(t *testing.T, s *edgeproxy.Server) *Router {
	t.Helper()
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, secret)
	r, err := New(map[string]string{OptAdmin: "http://" + s.AdminAddr(), OptToken: "env:" + tokenEnv})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSetWeightsReadsBack(t *testing.T) {
	s := startProxy(t)
	r := newRouter(t, s)
	ctx := context.Background()
	if err := r.SetWeights(ctx, map[string]int{"a": 20, "b": 80}); err != nil {
		t.Fatal(err)
	}
	got, err := r.Weights(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["a"] != 20 || got["b"] != 80 || len(got) != 2 {
		t.Fatalf("weights %v, want a=20 b=80", got)
	}
	if bs := s.Backends(); bs[0].Weight != 20 || bs[1].Weight != 80 {
		t.Fatalf("proxy holds %+v", bs)
	}
}

func TestDrain(t *testing.T) {
	s := startProxy(t)
	r := newRouter(t, s)
	n, err := r.Drain(context.Background(), "a", time.Second)
	if err != nil || n != 0 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if w, _ := r.Weights(context.Background()); w["a"] != 0 {
		t.Fatalf("after drain a=%d, want 0", w["a"])
	}
}

func TestValidationErrorsAreNonRetryable(t *testing.T) {
	s := startProxy(t)
	r := newRouter(t, s)
	ctx := context.Background()
	checks := map[string]error{
		"weight 101":      r.SetWeights(ctx, map[string]int{"a": 101}),
		"unknown backend": r.SetWeights(ctx, map[string]int{"zz": 1}),
		"drain unknown":   drainErr(r.Drain(ctx, "zz", time.Second)),
	}
	for name, err := range checks {
		assertInvalid(t, name, err)
	}
}

func drainErr(_ int, err error) error { return err }

func TestTokenFromEnvReference(t *testing.T) {
	s := startProxy(t)
	admin := "http://" + s.AdminAddr()

	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, "")
	_, err := New(map[string]string{OptAdmin: admin, OptToken: "env:" + tokenEnv})
	assertInvalid(t, "unset env", err)
	if !strings.Contains(err.Error(), tokenEnv) {
		t.Errorf("unset env error should name %s: %v", tokenEnv, err)
	}
	_, err = New(map[string]string{OptAdmin: admin, OptToken: secret})
	assertInvalid(t, "literal token", err)

	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, "wrong-token")
	r, err := New(map[string]string{OptAdmin: admin, OptToken: "env:" + tokenEnv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Weights(context.Background())
	assertInvalid(t, "wrong token", err)

	r = newRouter(t, s)
	if strings.Contains(r.String(), secret) || strings.Contains(r.LogValue().String(), secret) {
		t.Fatal("router printed its token")
	}
}

func TestBadOptions(t *testing.T) {
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, secret)
	for name, opts := range map[string]map[string]string{
		"unknown key": {"adminn": "http://127.0.0.1:1"},
		"bad url":     {OptAdmin: "127.0.0.1:8081", OptToken: "env:" + tokenEnv},
	} {
		_, err := New(opts)
		assertInvalid(t, name, err)
	}
}

func TestProxyDownIsRetryable(t *testing.T) {
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, secret)
	l := httptest.NewServer(http.NotFoundHandler())
	addr := l.URL
	l.Close() // nothing listens there now
	r, err := New(map[string]string{OptAdmin: addr, OptToken: "env:" + tokenEnv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Weights(context.Background())
	var ae *temporal.ApplicationError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("proxy down: %v, want a plain retryable error", err)
	}
}

func TestVerifyListsMismatches(t *testing.T) {
	err := verify("x", map[string]int{"b": 10, "a": 90, "c": 5}, map[string]int{"a": 90, "b": 0})
	want := "b=10 (read back 0), c=5 (read back missing)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("verify: %v, want it to contain %q", err, want)
	}
}

func assertInvalid(t *testing.T, name string, err error) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrTypeInvalid || !ae.NonRetryable() {
		t.Errorf("%s: %v, want non-retryable %s", name, err, ErrTypeInvalid)
		return
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("%s: error leaks the token: %v", name, err)
	}
}
