package exporters

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/runbookhq/runbook/internal/edgeproxy"
)

// NginxBuckets are the controller's default request duration bounds in
// seconds (--time-buckets, Prometheus's default buckets): the edge's own.
var NginxBuckets = edgeproxy.DurationBuckets

// nginxStatus is the status code a class is reported under: the edge
// counts classes, ingress-nginx codes; 500 is what the sample app's fault
// answers.
var nginxStatus = map[string]string{"1xx": "101", "2xx": "200", "3xx": "304", "4xx": "404", "5xx": "500"}

// NginxLabels are the constant parts of a request's labels. Without
// Primary every backend is a Service behind its own Ingress: service and
// ingress are the backend's name. With Primary the backends are one
// Ingress's Service (Primary) and canary-weight Ingresses' Services (the
// others), labelled as the controller labels them: every request under
// service=Primary, a canary's requests with canary="<namespace>-<name>-<port>".
type NginxLabels struct {
	ControllerClass, ControllerNamespace, ControllerPod string
	Host, Namespace, Method, Path                       string
	Primary, Port                                       string
}

// DefaultNginxLabels are the labels of a default helm install serving
// shop.example.com from the default namespace.
var DefaultNginxLabels = NginxLabels{
	ControllerClass: "k8s.io/ingress-nginx", ControllerNamespace: "ingress-nginx",
	ControllerPod: "ingress-nginx-controller-7c489dc7b7-ccrf6",
	Host:          "shop.example.com", Namespace: "default", Method: "GET", Path: "/",
}

// WriteNginx renders backends as the ingress-nginx controller's /metrics
// (client_golang's text format: HELP and TYPE, labels sorted, le last),
// one backend Service a backend (see NginxLabels for canaries). Request series exist per status once a
// request had that status, and a Service's histogram once it had a
// request. The edge does not split latency by status, so a Service's
// histogram carries all its requests under its most frequent status;
// queries that sum over status, as the preset's do, see every request.
func WriteNginx(w io.Writer, backends []Backend, l NginxLabels) error {
	bw := bufio.NewWriter(w)
	header(bw, "nginx_ingress_controller_request_duration_seconds", "histogram", "The request processing time in milliseconds")
	for _, b := range backends {
		if b.Count() == 0 {
			continue
		}
		labels := l.series(b.Name, nginxStatus[b.mostFrequentClass()])
		for _, le := range NginxBuckets {
			fmt.Fprintf(bw, "nginx_ingress_controller_request_duration_seconds_bucket{%s,le=%q} %d\n", labels, formatFloat(le), b.CumulativeAt(le))
		}
		fmt.Fprintf(bw, "nginx_ingress_controller_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, b.Count())
		fmt.Fprintf(bw, "nginx_ingress_controller_request_duration_seconds_sum{%s} %s\n", labels, formatFloat(b.Sum))
		fmt.Fprintf(bw, "nginx_ingress_controller_request_duration_seconds_count{%s} %d\n", labels, b.Count())
	}
	header(bw, "nginx_ingress_controller_requests", "counter", "The total number of client requests")
	for _, b := range backends {
		for _, c := range envoyClasses {
			if n := b.ByClass[c]; n > 0 {
				fmt.Fprintf(bw, "nginx_ingress_controller_requests{%s} %d\n", l.series(b.Name, nginxStatus[c]), n)
			}
		}
	}
	return bw.Flush()
}

func header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// series is the sorted label list of backend's requests with status.
func (l NginxLabels) series(backend, status string) string {
	service, canary := backend, ""
	if l.Primary != "" {
		// The controller labels a request with the location's Service, the
		// main Ingress's, and the upstream it picked in canary
		// (monitor.lua, balancer.lua).
		service = l.Primary
		if backend != l.Primary {
			canary = l.Namespace + "-" + backend + "-" + l.Port
		}
	}
	pairs := [][2]string{
		{"canary", canary}, {"controller_class", l.ControllerClass}, {"controller_namespace", l.ControllerNamespace},
		{"controller_pod", l.ControllerPod}, {"host", l.Host}, {"ingress", service}, {"method", l.Method},
		{"namespace", l.Namespace}, {"path", l.Path}, {"service", service}, {"status", status},
	}
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = fmt.Sprintf("%s=%q", p[0], p[1])
	}
	return strings.Join(parts, ",")
}

// mostFrequentClass is the class with the most requests ("2xx" on ties).
func (b Backend) mostFrequentClass() string {
	best := "2xx"
	for _, c := range envoyClasses {
		if b.ByClass[c] > b.ByClass[best] {
			best = c
		}
	}
	return best
}
