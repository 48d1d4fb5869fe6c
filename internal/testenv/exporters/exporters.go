// Package exporters serves, for tests, the Prometheus exposition of
// exporters that cannot run here (no Envoy or ingress-nginx binary, no
// internet): Envoy's admin /stats/prometheus and the ingress-nginx
// controller's /metrics, with the metric names, labels, TYPE and HELP
// lines and bucket bounds their documentation and sources show (recorded
// in testdata/). The numbers are live: every scrape reads the real edge
// proxy's /metrics and translates it, one edge backend per Envoy cluster
// or ingress-nginx Service, so real traffic through the proxy drives them.
//
//	exp := exporters.Start(t, exporters.Envoy, "http://"+edge.AdminAddr()+"/metrics")
//	promSrv := prom.Start(t, exp.Addr)
package exporters

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Kind names the exporter a server imitates.
type Kind string

// The exporters served.
const (
	Envoy        Kind = "envoy"
	IngressNginx Kind = "ingress-nginx"
)

// scrapeTimeout bounds one read of the edge's metrics, below the test
// Prometheus's scrape timeout.
const scrapeTimeout = 150 * time.Millisecond

// Server is a running translating exporter.
type Server struct {
	// Addr is host:port, a Prometheus target; URL its base URL.
	Addr, URL string
}

// Start serves kind's exposition on 127.0.0.1 at /metrics, translated at
// every request from the edge proxy's metrics at edgeURL, until the test
// ends.
func Start(t testing.TB, kind Kind, edgeURL string) *Server {
	t.Helper()
	h := Handler(kind, edgeURL)
	if h == nil {
		t.Fatalf("exporters: unknown kind %q", kind)
	}
	return Serve(t, h)
}

// Serve serves h on 127.0.0.1 until the test ends.
func Serve(t testing.TB, h http.Handler) *Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Server{Addr: strings.TrimPrefix(srv.URL, "http://"), URL: srv.URL}
}

// Handler serves kind's /metrics from the edge proxy's at edgeURL; nil for
// an unknown kind.
func Handler(kind Kind, edgeURL string) http.Handler {
	switch kind {
	case Envoy:
		return translate(edgeURL, WriteEnvoy)
	case IngressNginx:
		return NginxHandler(edgeURL, DefaultNginxLabels)
	}
	return nil
}

// NginxHandler serves ingress-nginx's /metrics with labels l from the edge
// proxy's at edgeURL.
func NginxHandler(edgeURL string, l NginxLabels) http.Handler {
	return translate(edgeURL, func(w io.Writer, b []Backend) error { return WriteNginx(w, b, l) })
}

// translate serves write's rendering of the edge's backends at /metrics.
func translate(edgeURL string, write func(io.Writer, []Backend) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
		defer cancel()
		backends, err := ScrapeEdge(ctx, edgeURL)
		if err != nil {
			// A failed scrape, as the exporter's own would be: Prometheus
			// marks the target down rather than seeing zeros.
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = write(w, backends)
	})
	return mux
}
