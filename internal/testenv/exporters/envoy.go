package exporters

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// EnvoyBuckets are Envoy's default histogram bounds in milliseconds, the
// le values of /stats/prometheus for upstream_rq_time.
var EnvoyBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// envoyClasses are the response code classes Envoy counts, by the edge's
// class names.
var envoyClasses = []string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// WriteEnvoy renders backends as Envoy's admin /stats/prometheus renders
// its clusters, one cluster a backend: TYPE lines without HELP, families
// sorted by name, tags in Envoy's order (envoy_response_code_class before
// envoy_cluster_name). Envoy creates a code class counter at the first
// response of that class, so a class that never happened has no series.
func WriteEnvoy(w io.Writer, backends []Backend) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# TYPE envoy_cluster_upstream_rq_total counter")
	for _, b := range backends {
		fmt.Fprintf(bw, "envoy_cluster_upstream_rq_total{envoy_cluster_name=%q} %d\n", b.Name, b.Total())
	}
	fmt.Fprintln(bw, "# TYPE envoy_cluster_upstream_rq_xx counter")
	for _, b := range backends {
		for _, c := range envoyClasses {
			if n := b.ByClass[c]; n > 0 {
				fmt.Fprintf(bw, "envoy_cluster_upstream_rq_xx{envoy_response_code_class=%q,envoy_cluster_name=%q} %d\n", c[:1], b.Name, n)
			}
		}
	}
	fmt.Fprintln(bw, "# TYPE envoy_cluster_upstream_rq_time histogram")
	for _, b := range backends {
		for _, le := range EnvoyBuckets {
			fmt.Fprintf(bw, "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=%q,le=%q} %d\n", b.Name, formatFloat(le), b.CumulativeAt(le/1000))
		}
		fmt.Fprintf(bw, "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=%q,le=\"+Inf\"} %d\n", b.Name, b.Count())
		fmt.Fprintf(bw, "envoy_cluster_upstream_rq_time_sum{envoy_cluster_name=%q} %s\n", b.Name, formatFloat(b.Sum*1000))
		fmt.Fprintf(bw, "envoy_cluster_upstream_rq_time_count{envoy_cluster_name=%q} %d\n", b.Name, b.Count())
	}
	return bw.Flush()
}

// formatFloat writes 3600000, not 3.6e+06, as Envoy does.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
