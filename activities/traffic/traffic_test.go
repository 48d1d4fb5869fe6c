package traffic

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/activities/traffic/edgerouter"
	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/secretref"
)

const tokenEnv = "TRAFFIC_TEST_TOKEN"

func TestUnknownProvider(t *testing.T) {
	for _, p := range []string{"", "nginx", "envoy"} {
		_, err := New(p, nil)
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || ae.Type() != ErrTypeInvalid || !ae.NonRetryable() {
			t.Fatalf("provider %q: %v, want non-retryable %s", p, err, ErrTypeInvalid)
		}
		want := `unknown traffic provider "` + p + `"; known: edge, haproxy, alb, route53`
		if ae.Message() != want {
			t.Fatalf("provider %q: %q, want %q", p, ae.Message(), want)
		}
	}
}

func TestErrorTypesAgree(t *testing.T) {
	if edgerouter.ErrTypeInvalid != ErrTypeInvalid {
		t.Fatalf("edge.ErrTypeInvalid %q != %q", edgerouter.ErrTypeInvalid, ErrTypeInvalid)
	}
}

// TestActivitiesAgainstEdge runs the activities in the SDK's activity test
// environment against a real edge proxy.
func TestActivitiesAgainstEdge(t *testing.T) {
	s := startProxy(t)
	t.Setenv(secretref.AllowEnv, tokenEnv)
	t.Setenv(tokenEnv, "tok-3c9e-0f1a2b3c4d5e6f708192a3b4c5d6")
	target := Target{Provider: "edge", Options: map[string]string{"admin": "http://" + s.AdminAddr(), "token": "env:" + tokenEnv}}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(&Activities{})
	var acts *Activities // typed nil, as workflows call it

	v, err := env.ExecuteActivity(acts.SetWeights, SetWeightsInput{Target: target, Weights: map[string]int{"blue": 0, "green": 100}})
	if err != nil {
		t.Fatal(err)
	}
	var set SetWeightsResult
	if err := v.Get(&set); err != nil || set.Weights["green"] != 100 || set.Weights["blue"] != 0 {
		t.Fatalf("SetWeights: %+v %v", set, err)
	}
	v, err = env.ExecuteActivity(acts.Drain, DrainInput{Target: target, Backend: "green", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var dr DrainResult
	if err := v.Get(&dr); err != nil || !dr.Drained || dr.InFlight != 0 {
		t.Fatalf("Drain: %+v %v", dr, err)
	}
	v, err = env.ExecuteActivity(acts.Weights, WeightsInput{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	var ws WeightsResult
	if err := v.Get(&ws); err != nil || ws.Weights["green"] != 0 || len(ws.Weights) != 2 {
		t.Fatalf("Weights: %+v %v", ws, err)
	}
	_, err = env.ExecuteActivity(acts.Weights, WeightsInput{Target: Target{Provider: "alb"}})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrTypeInvalid || !ae.NonRetryable() {
		t.Fatalf("unknown provider through the activity: %v", err)
	}
}

func startProxy(t *testing.T) *edgeproxy.Server {
	t.Helper()
	s, err := edgeproxy.New(edgeproxy.Config{
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: "tok-3c9e-0f1a2b3c4d5e6f708192a3b4c5d6",
		StateFile: filepath.Join(t.TempDir(), "edge.json"),
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
	for _, name := range []string{"blue", "green"} {
		// Backend URLs need not answer: these tests route no traffic.
		if err := s.Put(edgeproxy.BackendSpec{Name: name, URL: "http://127.0.0.1:9/" + name, Weight: 50}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
