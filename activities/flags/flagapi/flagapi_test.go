package flagapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/secretref"
)

const secret = "tok-5ecret"

// The token reaches the API in Authorization and nowhere else: not in
// String, slog output or the error of a refused or failed call.
func TestClientKeepsTheTokenOut(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != secret:
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/boom":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"message": "version mismatch"}`))
		default:
			_, _ = w.Write([]byte(`{"ok": true}`))
		}
	}))
	defer s.Close()
	base, err := BaseURL("test", "url", s.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient("test", base, "env:TEST_TOKEN", secret)
	var out struct{ OK bool }
	if status, err := c.Do(context.Background(), Request{Method: "GET", Path: "/x", Out: &out}); err != nil || status != 200 || !out.OK {
		t.Fatalf("%d %v %+v", status, err, out)
	}
	_, err = c.Do(context.Background(), Request{Method: "POST", Path: "/boom", Body: map[string]int{"a": 1}})
	if err == nil || !strings.Contains(err.Error(), "409: version mismatch") {
		t.Errorf("conflict: %v", err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("calling", "api", c)
	wrong := NewClient("test", base, "env:TEST_TOKEN", secret+"x")
	_, err = wrong.Do(context.Background(), Request{Method: "GET", Path: "/x"})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "env:TEST_TOKEN") {
		t.Errorf("wrong token: %v", err)
	}
	for _, s := range []string{c.String(), logs.String(), err.Error()} {
		if strings.Contains(s, secret) {
			t.Errorf("the token leaks: %s", s)
		}
	}
}

// Only env:NAME references the worker allows resolve; the worker's own
// RUNBOOK_* settings never do.
func TestToken(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "FLAGS_TOKEN")
	t.Setenv("FLAGS_TOKEN", secret)
	if v, err := Token("unleash", "token", "env:FLAGS_TOKEN"); err != nil || v != secret {
		t.Errorf("allowed reference: %q %v", v, err)
	}
	for ref, want := range map[string]string{
		secret:              "not the token itself",
		"env:OTHER":         secretref.AllowEnv,
		"env:RUNBOOK_AUDIT": "never readable",
		"env:":              "not the token itself",
	} {
		if _, err := Token("unleash", "token", ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", ref, err, want)
		}
	}
}
