package runbooks

import (
	"fmt"
	"strings"
)

// experiment checks a flag step's experiment: the metric template exists in
// the environment, has the kind's shape and reads ${variant} (else both
// variants would measure the same thing and never differ), the numbers
// are in range, and some stage bakes (the comparison runs after a bake).
func (v *validator) experiment(path string, e *Environment, f *FlagStep) {
	x := f.Experiment
	switch x.Kind {
	case ExperimentRate, ExperimentValue:
	default:
		v.errf(path+".kind", "experiment kind %q is not known; use rate (a ratio template's good/total) or value (a value template)", x.Kind)
	}
	if v.required(path+".metric", "the experiment's metric", x.Metric, "name a metric template of the environment, e.g. metric: conversion") {
		v.experimentTemplate(path+".metric", e, x)
	}
	if v.has(path+".max-harm") && (x.MaxHarm < 0 || (x.Kind == ExperimentRate && x.MaxHarm >= 1)) {
		v.errf(path+".max-harm", "max-harm %g is out of range: a rate's is in [0, 1), a value's is 0 or more", x.MaxHarm)
	}
	if v.has(path+".confidence") && !(x.Confidence >= 0.5 && x.Confidence < 1) {
		v.errf(path+".confidence", "confidence %g is not in [0.5, 1); e.g. 0.95", x.Confidence)
	}
	if v.has(path+".min-samples") && x.MinSamples < 1 {
		v.errf(path+".min-samples", "min-samples %d must be 1 or more", x.MinSamples)
	}
	baked := false
	for _, s := range f.Stages {
		baked = baked || s.Bake > 0
	}
	if !baked {
		v.errf(path, "an experiment compares the variants at the end of each stage's bake, and no stage bakes; give a stage bake: 5m")
	}
}

// experimentTemplate checks the template the experiment reads.
func (v *validator) experimentTemplate(path string, e *Environment, x *Experiment) {
	if e.Metrics == nil {
		v.errf(path, "the experiment reads metric template %q, and the environment has no metrics section", x.Metric)
		return
	}
	t, ok := e.Metrics.Templates[x.Metric]
	if !ok {
		v.errf(path, "the environment has no metric template %q; add it under metrics.templates with ${variant} in its queries", x.Metric)
		return
	}
	var queries []string
	switch {
	case x.Kind == ExperimentRate && (t.Good == "" || t.Total == ""):
		v.errf(path, "a rate experiment reads good/total of a ratio template, and template %q has no good and total (conversions and checkouts)", x.Metric)
		return
	case x.Kind == ExperimentRate:
		queries = []string{t.Good, t.Total}
	case x.Kind == ExperimentValue && t.Value == "":
		v.errf(path, "a value experiment reads a value template, and template %q is a %s", x.Metric, t.Shape())
		return
	case x.Kind == ExperimentValue:
		queries = []string{t.Value}
	}
	for _, q := range queries {
		if !strings.Contains(q, "${"+VarVariant+"}") {
			v.errf(path, "template %q: %s", x.Metric, fmt.Sprintf("query %q does not use ${variant}, so on and off would measure the same series", q))
			return
		}
	}
}
