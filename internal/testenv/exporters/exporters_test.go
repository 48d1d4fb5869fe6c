package exporters

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/edgeproxy"
	"github.com/runbookhq/runbook/internal/testenv"
)

// shape is the exposition without values: HELP and TYPE lines, and each
// sample's name with its label names in order; le and the code class keep
// their values, since their bounds and spelling are what queries match.
func shape(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE "):
			out = append(out, line)
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			name, labels, _, err := parseSample(line)
			if err != nil {
				panic(err)
			}
			s := name + "{"
			for _, kv := range strings.Split(line[len(name)+1:strings.LastIndexByte(line, '}')], ",") {
				k := kv[:strings.IndexByte(kv, '=')]
				s += k
				if k == "le" || k == "envoy_response_code_class" || k == "status" {
					s += "=" + labels[k]
				}
				s += ","
			}
			out = append(out, s+"}")
		}
	}
	return out
}

// recordedBackend is a backend in the state of the recorded snippets: only
// 2xx answers, latencies within the edge's bounds.
func recordedBackend(name string, n uint64) Backend {
	b := Backend{Name: name, ByClass: map[string]uint64{"2xx": n}, Buckets: make([]uint64, len(edgeproxy.DurationBuckets)+1), Sum: 0.1}
	for i := range b.Buckets {
		b.Buckets[i] = n
	}
	return b
}

// TestRenderingMatchesTheRecordedExposition: the translated output has the
// recorded exporters' families, TYPE and HELP lines, label names and order,
// and bucket bounds, line for line.
func TestRenderingMatchesTheRecordedExposition(t *testing.T) {
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer, []Backend) error
	}{
		{"envoy-stats-prometheus.txt", func(w *bytes.Buffer, b []Backend) error { return WriteEnvoy(w, b) }},
		{"ingress-nginx-metrics.txt", func(w *bytes.Buffer, b []Backend) error { return WriteNginx(w, b, DefaultNginxLabels) }},
	} {
		recorded, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := tc.write(&got, []Backend{recordedBackend("shop-blue", 10)}); err != nil {
			t.Fatal(err)
		}
		want, have := shape(string(recorded)), shape(got.String())
		if !slices.Equal(want, have) {
			t.Errorf("%s: rendered shape differs from the recording\nwant:\n%s\ngot:\n%s", tc.file, strings.Join(want, "\n"), strings.Join(have, "\n"))
		}
	}
}

// TestEdgeTrafficDrivesTheExporters: requests through a real edge proxy
// show up in both translations at the next scrape, a 5xx class series
// only for the backend that answered 5xx, and the Envoy histogram in
// milliseconds.
func TestEdgeTrafficDrivesTheExporters(t *testing.T) {
	edgeURL, proxy := startEdge(t)
	for range 40 {
		resp, err := http.Get(proxy + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var backends []Backend
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The edge counts a request as its response ends: wait for all 40.
	err := testenv.Poll(ctx, func(ctx context.Context) (bool, error) {
		var err error
		backends, err = ScrapeEdge(ctx, edgeURL)
		return err == nil && len(backends) == 2 && backends[0].Total()+backends[1].Total() == 40, err
	})
	if err != nil {
		t.Fatalf("edge scrape: %v (last %+v)", err, backends)
	}
	bad, ok := backends[0], backends[1]
	if bad.Name != "bad" || bad.Total()+ok.Total() != 40 || bad.ByClass["5xx"] != bad.Total() || ok.ByClass["2xx"] != ok.Total() {
		t.Fatalf("edge scrape: %+v, want 40 requests, bad all 5xx, ok all 2xx", backends)
	}
	envoy := scrape(t, Start(t, Envoy, edgeURL).URL)
	nginx := scrape(t, Start(t, IngressNginx, edgeURL).URL)
	for _, want := range []string{
		fmt.Sprintf(`envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="bad"} %d`, bad.Total()),
		fmt.Sprintf(`envoy_cluster_upstream_rq_total{envoy_cluster_name="ok"} %d`, ok.Total()),
		fmt.Sprintf(`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="ok",le="3600000"} %d`, ok.Total()),
	} {
		if !strings.Contains(envoy, want+"\n") {
			t.Errorf("envoy exposition lacks %s:\n%s", want, envoy)
		}
	}
	if strings.Contains(envoy, `envoy_response_code_class="5",envoy_cluster_name="ok"`) {
		t.Errorf("envoy exposition has a 5xx series for ok, which never answered one")
	}
	if !strings.Contains(nginx, `service="bad",status="500"} `) || strings.Contains(nginx, `service="ok",status="500"`) {
		t.Errorf("nginx exposition: want a 500 series for bad only:\n%s", nginx)
	}
}

// startEdge runs a real edge proxy in front of a healthy and a failing
// backend at equal weights; it returns the metrics URL and the proxy's.
func startEdge(t *testing.T) (string, string) {
	t.Helper()
	handlers := map[string]http.HandlerFunc{
		"ok":  func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") },
		"bad": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
	}
	var specs []edgeproxy.BackendSpec
	for _, name := range []string{"bad", "ok"} {
		srv := httptest.NewServer(handlers[name])
		t.Cleanup(srv.Close)
		specs = append(specs, edgeproxy.BackendSpec{Name: name, URL: srv.URL, Weight: 50})
	}
	edge, err := edgeproxy.New(edgeproxy.Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
		Token: strings.Repeat("ab", 16), StateFile: filepath.Join(t.TempDir(), "edge.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := edge.Seed(specs); err != nil {
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
	return "http://" + edge.AdminAddr() + "/metrics", "http://" + edge.ProxyAddr()
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: HTTP %d: %s", base, resp.StatusCode, b.String())
	}
	return b.String()
}

// TestNginxCanaryLabels: with a primary Service, a canary-weight backend's
// requests are labelled as the controller labels them: the main Service,
// the canary upstream in canary.
func TestNginxCanaryLabels(t *testing.T) {
	l := DefaultNginxLabels
	l.Primary, l.Port = "blue", "80"
	var out bytes.Buffer
	if err := WriteNginx(&out, []Backend{recordedBackend("blue", 5), recordedBackend("green", 3)}, l); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		`nginx_ingress_controller_requests{canary="",controller_class="k8s.io/ingress-nginx",controller_namespace="ingress-nginx",controller_pod="ingress-nginx-controller-7c489dc7b7-ccrf6",host="shop.example.com",ingress="blue",method="GET",namespace="default",path="/",service="blue",status="200"} 5`,
		`nginx_ingress_controller_requests{canary="default-green-80",controller_class="k8s.io/ingress-nginx",controller_namespace="ingress-nginx",controller_pod="ingress-nginx-controller-7c489dc7b7-ccrf6",host="shop.example.com",ingress="blue",method="GET",namespace="default",path="/",service="blue",status="200"} 3`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("canary exposition lacks\n%s\nin\n%s", want, text)
		}
	}
	if strings.Contains(text, `service="green"`) {
		t.Errorf("a canary backend got its own service label:\n%s", text)
	}
}
