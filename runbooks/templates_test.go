package runbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// templatedRunbook has one environment whose traffic and metrics sections
// are %s and whose slos are %s.
const templatedRunbook = `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
environments:
  - name: production
%s    slos:
%s    steps:
      - name: shift
        canary: {steps: [{weight: 50, bake: 1m}]}
`

const builtinSLOs = "      - {name: errors, error-ratio: 0.01}\n      - {name: slow, latency: {percentile: 99, max: 300ms}}\n"

func templated(sections, slos string) string {
	return strings.NewReplacer("%s    slos", sections+"    slos", "%s    steps", slos+"    steps").Replace(templatedRunbook)
}

// parseIn parses src as dir/rb.yaml, so includes resolve in dir.
func parseIn(t *testing.T, dir, src string) (*Runbook, error) {
	t.Helper()
	return Parse(filepath.Join(dir, "rb.yaml"), []byte(src))
}

func TestPresetChosenFromRouterAndProvider(t *testing.T) {
	for _, c := range []struct{ sections, preset, bad string }{
		{"    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: edge}\n", "edge", ""},
		{"    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus}\n", "edge-prometheus", `edge_requests_total{backend="${slot}",code_class="5xx"}`},
		{"    traffic: {provider: haproxy, options: {socket: /s, backend: app}, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus}\n", "haproxy", `haproxy_server_http_responses_total{proxy="app",server="${slot}",code="5xx"}`},
		{"    traffic: {provider: haproxy, options: {socket: /s, backend: app}, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus, preset: envoy}\n", "envoy", `envoy_response_code_class="5"`},
		{"    traffic: {provider: alb, options: {listener-arn: 'arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/1/2', tg.blue: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/blue/3', tg.green: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/green/4'}, slots: {blue: {}, green: {}}}\n    metrics: {provider: cloudwatch}\n", "alb-cloudwatch", "AWS/ApplicationELB/HTTPCode_Target_5XX_Count:Sum:TargetGroup=${slot.target-group}"},
	} {
		rb, err := Parse("rb.yaml", []byte(templated(c.sections, builtinSLOs)))
		if err != nil {
			t.Errorf("%s: %v", c.preset, err)
			continue
		}
		e := &rb.Environments[0]
		if got := EffectivePreset(e); got != c.preset {
			t.Errorf("preset = %q, want %q", got, c.preset)
		}
		er, ok := e.Metrics.Templates[TemplateErrorRatio]
		if !ok || er.From != "preset "+c.preset || !strings.Contains(er.Bad, c.bad) {
			t.Errorf("%s: error-ratio template %+v, want from the preset with bad containing %q", c.preset, er, c.bad)
		}
		if _, ok := e.Metrics.Templates[TemplateLatency]; !ok {
			t.Errorf("%s: no latency template", c.preset)
		}
	}
}

func TestALBSlotsGetTheirCloudWatchDimensions(t *testing.T) {
	src := templated("    traffic: {provider: alb, options: {listener-arn: L, tg.blue: TB, tg.green: TG}, slots: {blue: {}, green: {target-group: own}}}\n    metrics: {provider: cloudwatch}\n", builtinSLOs)
	rb, err := Parse("rb.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	slots := rb.Environments[0].Traffic.Slots
	if slots["blue"][SlotTargetGroup] != "TB" || slots["blue"][SlotLoadBalancer] != "L" || slots["green"][SlotTargetGroup] != "own" {
		t.Errorf("slots %v: want tg.<slot> and listener-arn filled in where the slot leaves them out", slots)
	}
}

func TestEveryPresetValidates(t *testing.T) {
	for _, name := range PresetNames() {
		p, _ := LookupPreset(name)
		c := newCollector("preset")
		v := newValidator(c, map[string]*loc{}, nil)
		for tn, tmpl := range p.Templates(map[string]string{"backend": "app"}) {
			// Pretend each was written so every check applies.
			path := "templates." + tn
			v.locs[path] = &loc{}
			for _, k := range []string{"bad", "good", "total", "quantile", "value", "count", "min-count", "absent-bad-is-zero"} {
				v.locs[path+"."+k] = &loc{}
			}
			if tmpl.MinCount == 0 {
				delete(v.locs, path+".min-count")
			}
			if !tmpl.AbsentBadIsZero {
				delete(v.locs, path+".absent-bad-is-zero")
			}
			v.template(path, tn, &tmpl)
			for _, text := range []string{tmpl.Bad, tmpl.Good, tmpl.Total, tmpl.Quantile, tmpl.Value, tmpl.Count} {
				for _, msg := range variableProblems(path+".x", text) {
					t.Errorf("preset %s template %s: %s", name, tn, msg)
				}
			}
		}
		if err := c.result(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
		if p.Doc == "" || (!strings.Contains(p.Doc, "https://") && !strings.HasPrefix(name, "edge")) {
			t.Errorf("preset %s: its doc must say which metrics it expects and link the exporter's documentation", name)
		}
	}
}

func TestUnsupportedPairIsRefusedNamingTheTemplate(t *testing.T) {
	src := templated("    traffic: {provider: route53, options: {zone-id: Z, record: a.example.com}, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus}\n", builtinSLOs)
	_, err := Parse("rb.yaml", []byte(src))
	for _, want := range []string{
		`rb.yaml:10:24: error-ratio reads the metric template "error-ratio", which environment "production" does not have: no preset covers router route53 with metrics prometheus`,
		"add metrics.templates.error-ratio with bad: and total: queries (or value:)",
		`rb.yaml:11:22: latency reads the metric template "latency"`,
		"add metrics.templates.latency with a quantile: query using ${quantile}",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
}

func TestIncludedTemplatesServeEveryService(t *testing.T) {
	src := templated("    traffic: {provider: route53, options: {zone-id: Z, record: a.example.com}, slots: {blue: {}, green: {}}}\n    metrics:\n      provider: prometheus\n      include: [templates/platform.yaml]\n      templates:\n        latency: {quantile: 'q(${quantile})'}\n",
		builtinSLOs)
	rb, err := parseIn(t, "testdata", src)
	if err != nil {
		t.Fatal(err)
	}
	ts := rb.Environments[0].Metrics.Templates
	er := ts[TemplateErrorRatio]
	if er.From != "file templates/platform.yaml" || er.MinCount != 20 || !er.AbsentBadIsZero || !strings.Contains(er.Bad, `upstream="${service}-${slot}"`) {
		t.Errorf("error-ratio = %+v, want the included file's", er)
	}
	if l := ts[TemplateLatency]; l.From != "" || l.Quantile != "q(${quantile})" {
		t.Errorf("latency = %+v, want the runbook's own, overriding the file's", l)
	}
}

func TestIncludedFileProblemsPointIntoIt(t *testing.T) {
	sections := "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics:\n      provider: prometheus\n      include: [templates/broken.yaml, templates/missing.yaml]\n"
	_, err := parseIn(t, "testdata", templated(sections, builtinSLOs))
	broken := filepath.Join("testdata", "templates", "broken.yaml")
	for _, want := range []string{
		broken + `:3:5: template "error-ratio" has no total`,
		broken + `:5:15: "quantile": unknown variable ${windw}`,
		broken + `:5:15: template "latency"'s quantile uses neither ${quantile} nor ${percentile}`,
		`rb.yaml:10:40: metrics.include "templates/missing.yaml": cannot read the template file: no such file or directory`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
}

func TestTemplateProblems(t *testing.T) {
	edge := "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics:\n      provider: prometheus\n"
	for _, c := range []struct{ name, sections, slos, want string }{
		{"two shapes", edge + "      templates: {q: {value: v, quantile: 'x${quantile}'}}\n", "      - {name: q, template: q, max: 1}\n", `template "q" mixes shapes`},
		{"bad and good", edge + "      templates: {q: {bad: b, good: g, total: t}}\n", "      - {name: q, template: q, max: 1}\n", `template "q" has both bad and good`},
		{"total alone", edge + "      templates: {q: {total: t}}\n", "      - {name: q, template: q, max: 1}\n", `template "q" has total but neither bad nor good`},
		{"min-count without count", edge + "      templates: {q: {value: v, min-count: 5}}\n", "      - {name: q, template: q, max: 1}\n", `min-count bounds the count query`},
		{"absent-bad without bad", edge + "      templates: {q: {value: v, absent-bad-is-zero: true}}\n", "      - {name: q, template: q, max: 1}\n", `absent-bad-is-zero only applies to a bad query`},
		{"template without max", edge + "      templates: {q: {value: v}}\n", "      - {name: q, template: q}\n", "template needs max"},
		{"unknown template", edge, "      - {name: q, template: nope, max: 1}\n", `template reads the metric template "nope"`},
		{"latency from a ratio", edge + "      templates: {r: {bad: b, total: t}}\n", "      - {name: q, latency: {percentile: 99, max: 1s}, template: r}\n", `latency reads template "r" (from the runbook), a ratio; latency needs a quantile or value template`},
		{"compare template without slot", edge + "      templates: {q: {value: 'lat{pool=\"a\"}'}}\n", "      - {name: q, compare: {min-samples: 5}, template: q}\n", "its value does not use ${slot}"},
		{"window outside templates", edge, "      - {name: q, query: 'x[${window}]', max: 1}\n", "unknown variable ${window}"},
		{"unknown preset", "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus, preset: nginx}\n", builtinSLOs, `unknown metrics preset "nginx"; known: alb-cloudwatch, edge, edge-prometheus, envoy, haproxy, istio, nginx-ingress, or none`},
		{"preset for another provider", "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: cloudwatch, preset: haproxy}\n", builtinSLOs, "preset haproxy is written for the prometheus metrics provider, not cloudwatch"},
		{"preset none", "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus, preset: none}\n", builtinSLOs, "metrics.preset is none; add metrics.templates.error-ratio"},
		{"haproxy without backend", "    traffic: {provider: haproxy, options: {socket: /s}, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus}\n", builtinSLOs, "names the router's backend in its queries; add traffic.options.backend"},
		{"alb without target groups", "    traffic: {provider: alb, options: {listener-arn: L}, slots: {blue: {}, green: {}}}\n    metrics: {provider: cloudwatch}\n", builtinSLOs, "reads ${slot.target-group}, which slot blue does not have"},
	} {
		_, err := Parse("rb.yaml", []byte(templated(c.sections, c.slos)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", c.name, err, c.want)
		}
	}
}

func TestTemplateFileMustHoldTemplates(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.yaml"), []byte("error-ratio: {value: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sections := "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: prometheus, include: [t.yaml]}\n"
	_, err := parseIn(t, dir, templated(sections, builtinSLOs))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:1:1: ") {
		t.Errorf("err = %v, want the template file's own problem at its line", err)
	}
}

func TestAnalysisScoreProblems(t *testing.T) {
	edge := "    traffic: {provider: edge, slots: {blue: {}, green: {}}}\n    metrics: {provider: edge}\n"
	weighted := "      - {name: errors, error-ratio: 0.01, weight: 3, critical: true}\n      - {name: slow, latency: {percentile: 99, max: 300ms}}\n"
	ok := edge + "    analysis: {score: {pass: 90, marginal: 75}}\n"
	rb, err := Parse("rb.yaml", []byte(templated(ok, weighted)))
	if err != nil {
		t.Fatal(err)
	}
	e := rb.Environments[0]
	if e.Analysis.Score.Pass != 90 || e.SLOs[0].Weight != 3 || !e.SLOs[0].Critical {
		t.Errorf("analysis %+v, slos %+v", e.Analysis.Score, e.SLOs)
	}
	for _, c := range []struct{ name, sections, slos, want string }{
		{"weight without a score", edge, weighted, "rb.yaml:10:43: weight only counts in a weighted analysis; add analysis: {score: {pass: 90, marginal: 75}}"},
		{"critical without a score", edge, weighted, "rb.yaml:10:54: critical only counts in a weighted analysis"},
		{"marginal above pass", edge + "    analysis: {score: {pass: 80, marginal: 90}}\n", builtinSLOs, "score.marginal 90 must be from 0 up to pass (80)"},
		{"pass out of range", edge + "    analysis: {score: {pass: 120, marginal: 90}}\n", builtinSLOs, "score.pass 120 must be more than 0 and at most 100"},
		{"no marginal", edge + "    analysis: {score: {pass: 90}}\n", builtinSLOs, "score.marginal is missing"},
		{"zero weight", ok, "      - {name: errors, error-ratio: 0.01, weight: 0}\n", "weight 0 must be more than 0"},
	} {
		_, err := Parse("rb.yaml", []byte(templated(c.sections, c.slos)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", c.name, err, c.want)
		}
	}
}
