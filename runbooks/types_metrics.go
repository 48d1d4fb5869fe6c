package runbooks

// Metrics names the provider the SLO analysis reads from, and the templates
// that say how each SLO kind is measured there.
type Metrics struct {
	Provider string            `yaml:"provider" json:"provider" jsonschema:"required"` // enum: schema.go, from internal/providers
	Options  map[string]string `yaml:"options,omitempty" json:"options,omitempty" jsonschema:"description=Provider options (edge: url; prometheus: url\\, token; cloudwatch: region\\, endpoint; web: url\\, timeout\\, headers.NAME); secrets only as env:NAME."`
	// Preset names the built-in templates to start from. Empty means the
	// one for the traffic router and this provider (see Presets); "none"
	// means only the templates written here and in the included files.
	Preset string `yaml:"preset,omitempty" json:"preset,omitempty" jsonschema:"description=Built-in metric templates to start from: edge\\, edge-prometheus\\, haproxy\\, nginx-ingress\\, envoy\\, istio\\, alb-cloudwatch or none (default: chosen from traffic.provider and metrics.provider)."`
	// Include lists template files (each a map under `templates:`), read
	// relative to the runbook when it is loaded, so a platform team writes
	// them once for every service. Later files override earlier ones and
	// the runbook's own templates override them all.
	Include []string `yaml:"include,omitempty" json:"include,omitempty" jsonschema:"description=Files of metric templates (a templates: map)\\, relative to the runbook; later ones override earlier ones."`
	// Templates are the named queries SLOs read. After loading they hold
	// every template the environment can use: the preset's, the included
	// files' and the runbook's own, so the workflow needs no files.
	Templates map[string]MetricTemplate `yaml:"templates,omitempty" json:"templates,omitempty" jsonschema:"description=Named queries the SLOs read\\, with ${slot}\\, ${slot.KEY}\\, ${service}\\, ${environment}\\, ${version}\\, ${window}\\, ${quantile} and ${percentile}; error-ratio\\, latency and burn-rate read the templates of their name."`
}

// Names of the templates the built-in SLO kinds read by default. burn-rate
// reads the error-ratio template over two windows.
const (
	TemplateErrorRatio = "error-ratio"
	TemplateLatency    = "latency"
)

// PresetNone turns the built-in templates off.
const PresetNone = "none"

// MetricTemplate is one named query. It is exactly one of: a ratio (Bad or
// Good, over Total), a Quantile (a latency in seconds, with ${quantile} or
// ${percentile}) or a plain Value. Count, when set, is the number of
// requests behind the answer: below MinCount the answer is inconclusive,
// never a pass, because a ratio over a handful of requests is noise.
type MetricTemplate struct {
	Description string `yaml:"description,omitempty" json:"description,omitempty" jsonschema:"description=What the template measures and which metrics it expects."`
	Bad         string `yaml:"bad,omitempty" json:"bad,omitempty" jsonschema:"description=Query of the failed requests (with total: the ratio bad/total)."`
	Good        string `yaml:"good,omitempty" json:"good,omitempty" jsonschema:"description=Query of the successful requests (with total: the ratio 1 - good/total)."`
	Total       string `yaml:"total,omitempty" json:"total,omitempty" jsonschema:"description=Query of all requests\\, the ratio's denominator."`
	// AbsentBadIsZero counts a bad query without data as zero when total
	// has data: exporters that create an error series only at the first
	// error (CloudWatch, NGINX status codes) would otherwise never pass.
	AbsentBadIsZero bool   `yaml:"absent-bad-is-zero,omitempty" json:"absent-bad-is-zero,omitempty" jsonschema:"description=Count a bad query with no data as 0 when total has data (for exporters that only create an error series at the first error)."`
	Quantile        string `yaml:"quantile,omitempty" json:"quantile,omitempty" jsonschema:"description=Query of a latency quantile in seconds\\, using ${quantile} (0.99) or ${percentile} (99)."`
	Value           string `yaml:"value,omitempty" json:"value,omitempty" jsonschema:"description=Query of a plain value."`
	Count           string `yaml:"count,omitempty" json:"count,omitempty" jsonschema:"description=Query of the number of requests in the window; fewer than min-count makes the answer inconclusive."`
	MinCount        int    `yaml:"min-count,omitempty" json:"min-count,omitempty" jsonschema:"minimum=1,description=Fewest requests (count) an answer needs (default 10 when count is set)."`
	// From says where the template came from (a preset or a file), for
	// messages and `runbook slo check`; the loader sets it.
	From string `yaml:"-" json:"from,omitempty"`
}

// Shape is the template's kind: ratio, quantile, value, or "" when it has
// none (the validator refuses that).
func (t MetricTemplate) Shape() string {
	switch {
	case t.Total != "" || t.Bad != "" || t.Good != "":
		return "ratio"
	case t.Quantile != "":
		return "quantile"
	case t.Value != "":
		return "value"
	}
	return ""
}

// DefaultMinCount is the fewest requests a template's count must reach
// when it leaves min-count out.
const DefaultMinCount = 10

// TemplateFile is an included file of metric templates.
type TemplateFile struct {
	Templates map[string]MetricTemplate `yaml:"templates" json:"templates" jsonschema:"required"`
}

// Analysis says how an environment's SLO verdicts combine into a round's.
type Analysis struct {
	// Score weighs the SLOs instead of requiring each to pass.
	Score *Score `yaml:"score,omitempty" json:"score,omitempty" jsonschema:"description=Weigh the slos into a score from 0 to 100: at least pass passes\\, below marginal fails (a breach)\\, in between holds for a person."`
}

// Score is the thresholds of a weighted analysis, in points out of 100:
// the passing SLOs' share of the weight of those that returned data.
type Score struct {
	Pass     float64 `yaml:"pass" json:"pass" jsonschema:"required,exclusiveMinimum=0,maximum=100,description=Lowest passing score\\, e.g. 90."`
	Marginal float64 `yaml:"marginal" json:"marginal" jsonschema:"required,minimum=0,maximum=100,description=Lowest score that is not a failure\\, e.g. 75; from it up to pass the round is marginal and holds for a person."`
}
