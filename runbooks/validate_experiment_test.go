package runbooks

import (
	"os"
	"strings"
	"testing"
)

// experimentBase is a flag step with an experiment on a conversion rate.
const experimentBase = `api-version: runbook/v1
service: shop
owner: team-payments
artifact: {reference: ./app}
environments:
  - name: production
    metrics:
      provider: prometheus
      options: {url: "http://127.0.0.1:9090"}
      preset: none
      templates:
        conversion:
          good: sum(increase(conversions_total{variant="${variant}"}[${window}]))
          total: sum(increase(checkouts_total{variant="${variant}"}[${window}]))
        basket:
          value: avg_over_time(basket_value{variant="${variant}"}[${window}])
        plain:
          value: avg_over_time(basket_value[${window}])
    flags: {provider: file, options: {path: /var/lib/flags.json}}
    steps:
      - name: new-checkout
        flag:
          flags: [new-checkout]
          stages: [{percentage: 50, bake: 1m}, {percentage: 100}]
          experiment: {metric: conversion, kind: rate, max-harm: 0.02, confidence: 0.95, min-samples: 100}
`

func TestExperimentValidates(t *testing.T) {
	rb, err := Parse("x.yaml", []byte(experimentBase))
	if err != nil {
		t.Fatal(err)
	}
	x := rb.Environments[0].Steps[0].Flag.Experiment
	if x == nil || x.Metric != "conversion" || x.MaxHarm != 0.02 || !x.Required() || x.Conf() != 0.95 || x.Samples() != 100 {
		t.Errorf("experiment %+v", x)
	}
	value := strings.Replace(experimentBase, "metric: conversion, kind: rate", "metric: basket, kind: value, require: false", 1)
	if rb, err := Parse("x.yaml", []byte(value)); err != nil || rb.Environments[0].Steps[0].Flag.Experiment.Required() {
		t.Errorf("value experiment with require: false: %v", err)
	}
}

func TestExperimentProblems(t *testing.T) {
	const exp = "{metric: conversion, kind: rate, max-harm: 0.02, confidence: 0.95, min-samples: 100}"
	tests := []struct{ name, new, where, fragment string }{
		{"no such template", "{metric: revenue, kind: rate}", "x.yaml:25:32", `no metric template "revenue"`},
		{"rate of a value", "{metric: basket, kind: rate}", "x.yaml:25:32", "has no good and total"},
		{"value of a ratio", "{metric: conversion, kind: value}", "x.yaml:25:32", "is a ratio"},
		{"no variant", "{metric: plain, kind: value}", "x.yaml:25:32", "does not use ${variant}"},
		{"kind", "{metric: conversion, kind: mean}", "x.yaml:25:50", `experiment kind "mean" is not known`},
		{"max-harm", "{metric: conversion, kind: rate, max-harm: 1.5}", "x.yaml:25:66", "max-harm 1.5 is out of range"},
		{"confidence", "{metric: conversion, kind: rate, confidence: 1}", "x.yaml:25:68", "confidence 1 is not in [0.5, 1)"},
		{"min-samples", "{metric: conversion, kind: rate, min-samples: 0}", "x.yaml:25:69", "min-samples 0 must be 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "x.yaml", strings.Replace(experimentBase, exp, tt.new, 1))
			wantProblemContaining(t, ps, tt.where, tt.fragment)
		})
	}
	t.Run("no bake", func(t *testing.T) {
		src := strings.Replace(experimentBase, "bake: 1m", "bake: 0s", 1)
		wantProblemContaining(t, problemsOf(t, "x.yaml", src), "x.yaml:25:23", "no stage bakes")
	})
}

// TestVariantTemplateRefusedBesideTrafficStep: a canary analyses the same
// SLOs as a flag step, and only the flag step sets ${variant}.
func TestVariantTemplateRefusedBesideTrafficStep(t *testing.T) {
	src, err := os.ReadFile("testdata/valid/canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withVariant := strings.Replace(string(src), `      - name: saturation
        query: max(process_open_fds{slot="${slot}"})
        max: 1000`, `      - name: saturation
        template: fds
        max: 1000`, 1)
	withVariant = strings.Replace(withVariant, `      options: {address: "http://127.0.0.1:9090"}`, `      options: {address: "http://127.0.0.1:9090"}
      templates:
        fds: {value: 'max(process_open_fds{slot="${slot}", variant="${variant}"})'}`, 1)
	ps := problemsOf(t, "canary.yaml", withVariant)
	wantProblemContaining(t, ps, "canary.yaml:35:9", `template "fds" (from the runbook) reads ${variant}, which only a flag step sets, and canary step "shift"`)
	plain := strings.Replace(withVariant, `, variant="${variant}"`, "", 1)
	if _, err := Parse("canary.yaml", []byte(plain)); err != nil {
		t.Errorf("the same template without ${variant}: %v", err)
	}
}
