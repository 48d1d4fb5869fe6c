package runbooks

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Metric-template variables: only metric templates may use them. The
// provider replaces ${window} with the measurement window (PromQL duration
// syntax for prometheus); the workflow replaces the others.
const (
	VarWindow     = "window"     // the window the answer covers
	VarQuantile   = "quantile"   // a latency SLO's percentile as a fraction, e.g. 0.99
	VarPercentile = "percentile" // the same as a percentile, e.g. 99
)

// templateVariables are the variables a metric template may use on top of
// the release's and the slot's.
var templateVariables = []string{VarWindow, VarQuantile, VarPercentile, VarVariant}

// Slot values the alb preset reads; the loader fills them from the alb
// router's options when a slot leaves them out.
const (
	SlotTargetGroup  = "target-group"
	SlotLoadBalancer = "load-balancer"
)

// Preset is a set of built-in templates for one router's or exporter's
// metric names.
type Preset struct {
	Name string
	// Provider is the metrics provider the queries are written for.
	Provider string
	// Doc says which metrics the preset expects and which exporter
	// setting produces them.
	Doc string
	// NeedsOptions are the traffic options the templates read.
	NeedsOptions []string
	// templates builds the templates; traffic options give names the
	// metrics carry (the HAProxy backend).
	templates func(opts map[string]string) map[string]MetricTemplate
}

// Templates returns the preset's templates for a traffic section's
// options. Workflows call it (through PresetTemplates), so it touches no
// map order; the loader marks where the templates came from.
func (p Preset) Templates(trafficOptions map[string]string) map[string]MetricTemplate {
	return p.templates(trafficOptions)
}

// presets are the built-in presets by name.
var presets = map[string]Preset{
	"edge": {Name: "edge", Provider: "edge",
		Doc:       "runbook's edge proxy, read directly: its error ratio and latency histogram per backend (inconclusive under 10 requests).",
		templates: edgeTemplates},
	"edge-prometheus": {Name: "edge-prometheus", Provider: "prometheus",
		Doc:       "runbook's edge proxy scraped by Prometheus: edge_requests_total{backend,code_class} and edge_request_duration_seconds_bucket{backend} from its /metrics.",
		templates: edgePrometheusTemplates},
	"haproxy": {Name: "haproxy", Provider: "prometheus",
		Doc: "HAProxy's built-in Prometheus exporter (`http-request use-service prometheus-exporter`, https://docs.haproxy.org/2.6/management.html#9.5): " +
			"haproxy_server_http_responses_total{proxy,server,code} and haproxy_server_response_time_average_seconds{proxy,server}; the slot is the server, the proxy is traffic.options.backend. " +
			"The exporter has no latency histogram, so latency judges the average response time of the server's last 1024 requests.",
		NeedsOptions: []string{"backend"}, templates: haproxyTemplates},
	"nginx-ingress": {Name: "nginx-ingress", Provider: "prometheus",
		Doc: "ingress-nginx controller metrics (enabled by default, https://kubernetes.github.io/ingress-nginx/user-guide/monitoring/): " +
			"nginx_ingress_controller_requests{service,canary,status} and nginx_ingress_controller_request_duration_seconds_bucket{service,canary}; the slot is the backend Service's name, of the main Ingress (canary empty) or of a canary-weight Ingress (its upstream in canary).",
		templates: nginxTemplates},
	"envoy": {Name: "envoy", Provider: "prometheus",
		Doc: "Envoy's admin /stats/prometheus (https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--stats-prometheus): " +
			"envoy_cluster_upstream_rq_xx{envoy_cluster_name,envoy_response_code_class}, envoy_cluster_upstream_rq_total and envoy_cluster_upstream_rq_time_bucket (milliseconds); the slot is the upstream cluster's name. Also Gateway API implementations built on Envoy.",
		templates: envoyTemplates},
	"istio": {Name: "istio", Provider: "prometheus",
		Doc: "Istio's standard metrics (https://istio.io/latest/docs/reference/config/metrics/): " +
			"istio_requests_total{destination_workload,response_code} and istio_request_duration_milliseconds_bucket{destination_workload}; the slot is the destination workload.",
		templates: istioTemplates},
	"alb-cloudwatch": {Name: "alb-cloudwatch", Provider: "cloudwatch",
		Doc: "AWS Application Load Balancer metrics in CloudWatch (AWS/ApplicationELB, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html): " +
			"HTTPCode_Target_5XX_Count, RequestCount and TargetResponseTime per TargetGroup and LoadBalancer; the slot's target-group and load-balancer values (ARNs or dimension values) come from the alb router's options.",
		templates: albTemplates},
}

// defaultPresets picks a preset from the traffic router and the metrics
// provider, keyed "router/provider"; the edge metrics provider reads the
// edge proxy whatever routes to it.
var defaultPresets = map[string]string{
	"edge/prometheus":    "edge-prometheus",
	"haproxy/prometheus": "haproxy",
	"alb/cloudwatch":     "alb-cloudwatch",
}

// PresetNames lists the built-in presets, sorted.
func PresetNames() []string { return slices.Sorted(maps.Keys(presets)) }

// LookupPreset returns the preset called name.
func LookupPreset(name string) (Preset, bool) {
	p, ok := presets[name]
	return p, ok
}

// DefaultPreset is the preset chosen for router (a traffic provider, or ""
// without a traffic section) and a metrics provider, or "" when none fits.
func DefaultPreset(router, provider string) string {
	if provider == "edge" {
		return "edge"
	}
	return defaultPresets[router+"/"+provider]
}

// EffectivePreset is the preset an environment's metrics start from: the
// one named, or the default for its router; "" for none.
func EffectivePreset(e *Environment) string {
	if e.Metrics == nil || e.Metrics.Preset == PresetNone {
		return ""
	}
	if e.Metrics.Preset != "" {
		return e.Metrics.Preset
	}
	router := ""
	if e.Traffic != nil {
		router = e.Traffic.Provider
	}
	return DefaultPreset(router, e.Metrics.Provider)
}

// PresetTemplates returns the templates of e's effective preset, nil when
// it has none. Workflows call it for releases started before templates
// travelled in the input, so it must stay a pure function of e.
func PresetTemplates(e *Environment) map[string]MetricTemplate {
	p, ok := presets[EffectivePreset(e)]
	if !ok {
		return nil
	}
	var opts map[string]string
	if e.Traffic != nil {
		opts = e.Traffic.Options
	}
	return p.Templates(opts)
}

// promRatio is a Prometheus ratio template over one counter: bad selects
// the failed series with extra label matchers.
func promRatio(counter, selector, bad string) MetricTemplate {
	rate := func(sel string) string { return "sum(rate(" + counter + "{" + sel + "}[${window}]))" }
	return MetricTemplate{
		Bad: rate(selector + "," + bad), Total: rate(selector),
		Count:    "sum(increase(" + counter + "{" + selector + "}[${window}]))",
		MinCount: DefaultMinCount,
	}
}

// promQuantile is a Prometheus histogram quantile template; scale turns the
// histogram's unit into seconds ("" when it is seconds already).
func promQuantile(bucket, selector, scale string, count MetricTemplate) MetricTemplate {
	return MetricTemplate{
		Quantile: "histogram_quantile(${quantile}, sum by (le) (rate(" + bucket + "{" + selector + "}[${window}])))" + scale,
		Count:    count.Count, MinCount: count.MinCount,
	}
}

func edgeTemplates(map[string]string) map[string]MetricTemplate {
	return map[string]MetricTemplate{
		TemplateErrorRatio: {Description: "5xx share of the slot's requests, from the edge proxy", Value: "error-ratio"},
		TemplateLatency:    {Description: "latency quantile of the slot, from the edge proxy", Quantile: "latency:${quantile}"},
	}
}

func edgePrometheusTemplates(map[string]string) map[string]MetricTemplate {
	sel := `backend="${slot}"`
	er := promRatio("edge_requests_total", sel, `code_class="5xx"`)
	er.Description = "5xx share of the slot's requests through the edge proxy"
	lat := promQuantile("edge_request_duration_seconds_bucket", sel, "", er)
	lat.Description = "latency quantile of the slot through the edge proxy"
	return map[string]MetricTemplate{TemplateErrorRatio: er, TemplateLatency: lat}
}

func haproxyTemplates(opts map[string]string) map[string]MetricTemplate {
	sel := `proxy=` + strconv.Quote(opts["backend"]) + `,server="${slot}"`
	er := promRatio("haproxy_server_http_responses_total", sel, `code="5xx"`)
	er.Description = "5xx share of the slot server's responses in HAProxy"
	return map[string]MetricTemplate{
		TemplateErrorRatio: er,
		TemplateLatency: {
			Description: "average response time of the slot server's last 1024 requests (HAProxy's exporter has no histogram, so the percentile is not applied)",
			Value:       "max_over_time(haproxy_server_response_time_average_seconds{" + sel + "}[${window}])",
			Count:       er.Count, MinCount: er.MinCount,
		},
	}
}

func nginxTemplates(map[string]string) map[string]MetricTemplate {
	// A slot is the Service of the main Ingress (service, no canary) or
	// the Service behind a canary-weight Ingress, whose requests the
	// controller labels with the main Service and the canary's upstream
	// "<namespace>-<service>-<port>" in canary.
	sel := func(metric, fn, extra string) string {
		return fn + "(" + metric + `{service="${slot}",canary=""` + extra + "}[${window}]) or " +
			fn + "(" + metric + `{canary=~".+-${slot}-[0-9]+"` + extra + "}[${window}])"
	}
	const requests = "nginx_ingress_controller_requests"
	// "5.*" matches the status codes and, with --report-status-classes, "5xx".
	count := "sum(" + sel(requests, "increase", "") + ")"
	er := MetricTemplate{
		Description: "5xx share of the slot Service's requests through ingress-nginx (main or canary-weight Ingress)",
		Bad:         "sum(" + sel(requests, "rate", `,status=~"5.*"`) + ")", Total: "sum(" + sel(requests, "rate", "") + ")",
		AbsentBadIsZero: true, Count: count, MinCount: DefaultMinCount,
	}
	lat := MetricTemplate{
		Description: "latency quantile of the slot Service through ingress-nginx",
		Quantile:    "histogram_quantile(${quantile}, sum by (le) (" + sel("nginx_ingress_controller_request_duration_seconds_bucket", "rate", "") + "))",
		Count:       count, MinCount: DefaultMinCount,
	}
	return map[string]MetricTemplate{TemplateErrorRatio: er, TemplateLatency: lat}
}

func envoyTemplates(map[string]string) map[string]MetricTemplate {
	sel := `envoy_cluster_name="${slot}"`
	er := promRatio("envoy_cluster_upstream_rq_xx", sel, `envoy_response_code_class="5"`)
	er.Count = "sum(increase(envoy_cluster_upstream_rq_total{" + sel + "}[${window}]))"
	er.Description, er.AbsentBadIsZero = "5xx share of the slot cluster's upstream requests in Envoy", true
	lat := promQuantile("envoy_cluster_upstream_rq_time_bucket", sel, " / 1000", er)
	lat.Description = "upstream latency quantile of the slot cluster in Envoy"
	return map[string]MetricTemplate{TemplateErrorRatio: er, TemplateLatency: lat}
}

func istioTemplates(map[string]string) map[string]MetricTemplate {
	sel := `destination_workload="${slot}",reporter="destination"`
	er := promRatio("istio_requests_total", sel, `response_code=~"5.."`)
	er.Description, er.AbsentBadIsZero = "5xx share of the slot workload's requests in Istio", true
	lat := promQuantile("istio_request_duration_milliseconds_bucket", sel, " / 1000", er)
	lat.Description = "latency quantile of the slot workload in Istio"
	return map[string]MetricTemplate{TemplateErrorRatio: er, TemplateLatency: lat}
}

func albTemplates(map[string]string) map[string]MetricTemplate {
	dims := ":TargetGroup=${slot." + SlotTargetGroup + "},LoadBalancer=${slot." + SlotLoadBalancer + "}"
	requests := "AWS/ApplicationELB/RequestCount:Sum" + dims
	return map[string]MetricTemplate{
		TemplateErrorRatio: {
			Description: "target 5xx share of the slot's target group at the ALB",
			Bad:         "AWS/ApplicationELB/HTTPCode_Target_5XX_Count:Sum" + dims, Total: requests,
			// CloudWatch reports no 5xx datapoint while there are none.
			AbsentBadIsZero: true,
			Count:           requests, MinCount: DefaultMinCount,
		},
		TemplateLatency: {
			Description: "target response time percentile of the slot's target group at the ALB",
			Quantile:    "AWS/ApplicationELB/TargetResponseTime:p${percentile}" + dims,
			Count:       requests, MinCount: DefaultMinCount,
		},
	}
}

// albSlotValues fills each slot's target-group and load-balancer values
// from the alb router's options (tg.<slot>, listener-arn) when the slot
// leaves them out and the options are written as literals.
func albSlotValues(t *Traffic) {
	if t == nil || t.Provider != "alb" {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(t.Slots)) {
		values := t.Slots[name]
		fill := func(key, v string) {
			if _, set := values[key]; !set && v != "" && !strings.Contains(v, "${") {
				if values == nil {
					values = map[string]string{}
				}
				values[key] = v
			}
		}
		fill(SlotTargetGroup, t.Options["tg."+name])
		fill(SlotLoadBalancer, t.Options["listener-arn"])
		t.Slots[name] = values
	}
}
