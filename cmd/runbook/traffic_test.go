package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/secretref"
)

// trafficRunbook writes a runbook whose production routes through the edge
// proxy at admin.
func trafficRunbook(t *testing.T, admin string) string {
	t.Helper()
	rb := fmt.Sprintf(`api-version: runbook/v1
service: shop
owner: team-web
artifact:
  reference: ./shop.tar.gz
environments:
  - name: production
    traffic:
      provider: edge
      options:
        admin: %s
        token: env:TEST_EDGE_TOKEN
      slots:
        blue: {port: "1"}
        green: {port: "2"}
    steps:
      - name: shift
        all-at-once: {}
`, admin)
	path := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(path, []byte(rb), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startTestEdge runs the real edge proxy in-process with blue at 100 and
// green at 0.
func startTestEdge(t *testing.T, token string) *edgeproxy.Server {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "edge.json")
	seed := `{"backends":[{"name":"blue","url":"http://127.0.0.1:1","weight":100},{"name":"green","url":"http://127.0.0.1:2","weight":0}]}`
	if err := os.WriteFile(state, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := edgeproxy.New(edgeproxy.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: token, StateFile: state})
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
	return s
}

// `runbook traffic set` is what a rollback-incomplete release names to put
// traffic back: it sets the weights on the real router and prints them as
// read back; `get` reads them.
func TestTrafficSetAndGetOnTheEdgeProxy(t *testing.T) {
	isolateConfig(t)
	t.Setenv(secretref.AllowEnv, "TEST_EDGE_TOKEN")
	t.Setenv("TEST_EDGE_TOKEN", "tok-5f2a-9d8c7b6a5f4e3d2c1b0a9f8e7d6c")
	s := startTestEdge(t, "tok-5f2a-9d8c7b6a5f4e3d2c1b0a9f8e7d6c")
	rb := trafficRunbook(t, "http://"+s.AdminAddr())

	out, _, err := run(t, "traffic", "set", rb, "--env", "production", "blue=0", "green=100")
	if err != nil {
		t.Fatal(err)
	}
	if out != "blue=0\ngreen=100\n" {
		t.Fatalf("set printed %q, want the weights read back", out)
	}
	for _, b := range s.Backends() {
		if want := map[string]int{"blue": 0, "green": 100}[b.Name]; b.Weight != want {
			t.Fatalf("router has %s=%d, want %d", b.Name, b.Weight, want)
		}
	}
	out, _, err = run(t, "traffic", "get", rb, "--env", "production", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["green"] != 100 || got["blue"] != 0 {
		t.Fatalf("get -o json = %q (%v), want blue 0 and green 100", out, err)
	}
}

func TestTrafficSetRefusesBadInput(t *testing.T) {
	isolateConfig(t)
	t.Setenv(secretref.AllowEnv, "TEST_EDGE_TOKEN")
	t.Setenv("TEST_EDGE_TOKEN", "tok-5f2a-9d8c7b6a5f4e3d2c1b0a9f8e7d6c")
	s := startTestEdge(t, "tok-5f2a-9d8c7b6a5f4e3d2c1b0a9f8e7d6c")
	rb := trafficRunbook(t, "http://"+s.AdminAddr())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"blue=101"}, "weight from 0 to 100"},
		{[]string{"blue"}, "not SLOT=WEIGHT"},
		{[]string{"red=10"}, "red is not a slot of production (slots: blue, green)"},
	} {
		_, _, err := run(t, append([]string{"traffic", "set", rb, "--env", "production"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("traffic set %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	for _, b := range s.Backends() {
		if want := map[string]int{"blue": 100, "green": 0}[b.Name]; b.Weight != want {
			t.Fatalf("a refused set changed the router: %s=%d", b.Name, b.Weight)
		}
	}
}
