package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/loadgen"
)

// edgeSLORunbook measures the edge proxy's own metrics, read directly.
const edgeSLORunbook = `api-version: runbook/v1
service: shop
owner: team-slo
artifact:
  reference: ./app.bin
environments:
  - name: production
    traffic:
      provider: edge
      options:
        admin: %[1]s
      slots:
        blue: {}
        green: {}
    metrics:
      provider: edge
      options:
        url: %[1]s/metrics
    slos:
      - name: errors
        error-ratio: 0.05
      - name: p99
        latency:
          percentile: 99
          max: 1s
    steps:
      - name: shift
        canary:
          steps:
            - weight: 100
`

// TestSLOCheckEdgeUnderLoad: the real edge proxy splits load between two
// backends; the check scrapes it, waits one window and reports data for
// both slots (exit 0), the edge preset's templates named.
func TestSLOCheckEdgeUnderLoad(t *testing.T) {
	isolateConfig(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	blue, green := httptest.NewServer(ok), httptest.NewServer(ok)
	t.Cleanup(blue.Close)
	t.Cleanup(green.Close)
	dir := t.TempDir()
	state := filepath.Join(dir, "edge.json")
	seed := fmt.Sprintf(`{"backends":[{"name":"blue","url":%q,"weight":50},{"name":"green","url":%q,"weight":50}]}`, blue.URL, green.URL)
	if err := os.WriteFile(state, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	edge, err := edgeproxy.New(edgeproxy.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Token: strings.Repeat("t", 32), StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = edge.Shutdown(ctx)
	})
	ctx, cancel := context.WithCancel(context.Background())
	load, err := loadgen.Start(ctx, loadgen.Options{URL: "http://" + edge.ProxyAddr() + "/", Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); load.Stop() })
	path := filepath.Join(dir, "runbook.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(edgeSLORunbook, "http://"+edge.AdminAddr())), 0o600); err != nil {
		t.Fatal(err)
	}

	out, _, err := run(t, "slo", "check", path, "--env", "production", "--window", "1s")
	if err != nil {
		t.Fatalf("slo check under load: %v\n%s", err, out)
	}
	for _, want := range []string{"slot blue:", "slot green:", "error-ratio (preset edge)", "latency (preset edge)", "all 4 SLO checks returned data and pass now"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "inconclusive") {
		t.Errorf("an SLO was inconclusive under load:\n%s", out)
	}
}
