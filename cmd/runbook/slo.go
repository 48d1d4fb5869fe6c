package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/worker"
	"github.com/runbookhq/runbook/workflows"
)

// Exit codes of `runbook slo check`.
const (
	sloExitData   = 0 // every SLO returned data on every slot
	sloExitNoData = 1 // some SLO was inconclusive or its query failed
	sloExitUsage  = 2 // the check could not run as asked
)

// Defaults of `runbook slo check`.
const (
	// sloDefaultVersion stands in for ${version}: no release is running.
	sloDefaultVersion = "check"
	// sloAnalysisInterval is the workflow's analysis interval when a
	// traffic step leaves it out (workflows.defaultAnalysisInterval).
	sloAnalysisInterval = 10 * time.Second
	// sloNoStepWindow is the window when no traffic step names one.
	sloNoStepWindow = time.Minute
)

// sloCheckCmd is `runbook slo check`.
type sloCheckCmd struct {
	a           *app
	env         string
	slots       []string
	version     string
	window      time.Duration
	showQueries bool
	output      outputFlag
}

const sloCheckLong = `Runs every SLO query of an environment now, in this process, against both
slots of traffic.slots (or the ones --slot names), exactly as a traffic step
of a release would build them, and prints the value, the request count
behind it, the verdict and the template each SLO read (and where that came
from: a preset, an included file or the runbook). Run it before the first
canary: an SLO that returns no data pauses a release on an inconclusive
verdict at the worst moment.

The metrics provider runs here, not on the worker: its options' env:NAME
secrets are read from this shell, under the same ` + secretref.AllowEnv + ` rule.
The edge provider only knows what it scraped itself, so with it the check
scrapes, waits one window and measures.

Exit status:
  0  every SLO returned data on every slot checked (a fail is data: it is
     printed as a warning, since a release would roll back on it now)
  1  some SLO was inconclusive (no data, too few requests) or its query failed
  2  the check could not run: bad flags, unknown environment or slot, an
     environment without slos or metrics, or an invalid runbook`

// newSLOCmd builds `runbook slo` and its check.
func newSLOCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "slo", Short: "Service-level objectives of a runbook's environments"}
	v := &sloCheckCmd{a: a, output: outputFlag{indent: true}}
	check := &cobra.Command{
		Use:   "check RUNBOOK --env ENV",
		Short: "Run every SLO query now against the slots; exit 0 only when each returns data",
		Long:  sloCheckLong,
		Example: "  runbook slo check checkout.yaml --env production\n" +
			"  runbook slo check checkout.yaml --env production --slot green --show-queries\n" +
			"  runbook slo check checkout.yaml --env staging --window 5m -o json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("name one runbook file: runbook slo check RUNBOOK --env ENV")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0]) },
	}
	check.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err.Error()) })
	f := check.Flags()
	f.StringVar(&v.env, "env", "", "the environment (required)")
	f.StringArrayVar(&v.slots, "slot", nil, "a slot to check, repeatable (default: both slots of traffic.slots)")
	f.StringVar(&v.version, "version", sloDefaultVersion, "what ${version} stands for in the queries")
	f.DurationVar(&v.window, "window", 0, "what each measurement of an SLO without its own window covers (default: the traffic step's analysis-interval, else 1m)")
	f.BoolVarP(&v.showQueries, "show-queries", "v", false, "print the expanded queries of each SLO")
	v.output.register(f)
	cmd.AddCommand(check)
	return cmd
}

// usageError ends the program with the usage exit code.
func usageError(msg string) error {
	return &exitError{code: sloExitUsage, msg: "runbook: " + msg}
}

func (v *sloCheckCmd) run(ctx context.Context, path string) error {
	if v.env == "" {
		return usageError("name the environment with --env")
	}
	rb, err := runbooks.Load(path)
	if err != nil {
		var probs runbooks.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(v.a.out, p.String())
			}
			return &exitError{code: sloExitUsage, msg: fmt.Sprintf("%s: %d problem(s); fix them, then check the SLOs", path, len(probs))}
		}
		return &exitError{code: sloExitUsage, msg: fmt.Sprintf("%s: %v", path, err)}
	}
	env, err := sloEnvironment(rb, v.env)
	if err != nil {
		return err
	}
	pairs, err := slotPairs(env, v.slots)
	if err != nil {
		return err
	}
	window := v.window
	if window <= 0 {
		window = stepWindow(env)
	}
	rep := sloReport{Runbook: path, Service: rb.Service, Environment: env.Name,
		Provider: env.Metrics.Provider, Version: v.version, Window: window.String()}
	artifact := runbooks.Expand(rb.Artifact.Reference, map[string]string{runbooks.VarVersion: v.version})
	var plans []sloPlan
	for _, p := range pairs {
		vars := workflows.SLOVars(rb.Service, v.version, artifact, env, p.slot, p.other)
		checks := workflows.SLOChecks(env, p.slot, p.other, vars, window)
		plans = append(plans, sloPlan{slot: p.slot, other: p.other, checks: checks})
	}
	acts := &metrics.Activities{Factories: worker.MetricsProviders()}
	if env.Metrics.Provider == "edge" {
		if err := v.edgeBaseline(ctx, acts, plans); err != nil {
			return err
		}
	}
	for _, p := range plans {
		for i, c := range p.checks {
			rep.Results = append(rep.Results, measureOne(ctx, acts, env, env.SLOs[i], p, c))
		}
	}
	rep.summarize()
	if err := v.output.write(v.a.out, rep, func() error { return rep.text(v.a.out, v.showQueries) }); err != nil {
		return err
	}
	if !rep.OK {
		return &exitError{code: sloExitNoData}
	}
	return nil
}

// sloEnvironment is the environment named name, which must have SLOs and
// a metrics section.
func sloEnvironment(rb *runbooks.Runbook, name string) (*runbooks.Environment, error) {
	var names []string
	for i := range rb.Environments {
		e := &rb.Environments[i]
		if e.Name != name {
			names = append(names, e.Name)
			continue
		}
		if len(e.SLOs) == 0 || e.Metrics == nil {
			return nil, usageError(fmt.Sprintf("environment %q has no slos and metrics to check", name))
		}
		return e, nil
	}
	return nil, usageError(fmt.Sprintf("no environment %q in the runbook; it has: %s", name, strings.Join(names, ", ")))
}

// slotPair is a slot to measure and the other slot, a compare's baseline.
type slotPair struct{ slot, other string }

// slotPairs are the slots to check, each with the other one of
// traffic.slots. Without a traffic section there is one unnamed slot,
// as a release without a traffic step would have.
func slotPairs(env *runbooks.Environment, asked []string) ([]slotPair, error) {
	if env.Traffic == nil || len(env.Traffic.Slots) == 0 {
		if len(asked) > 0 {
			return nil, usageError(fmt.Sprintf("environment %q has no traffic.slots to name with --slot", env.Name))
		}
		return []slotPair{{}}, nil
	}
	all := slices.Sorted(maps.Keys(env.Traffic.Slots))
	other := func(s string) string {
		for _, o := range all {
			if o != s {
				return o
			}
		}
		return ""
	}
	if len(asked) == 0 {
		asked = all
	}
	var out []slotPair
	for _, s := range asked {
		if _, ok := env.Traffic.Slots[s]; !ok {
			return nil, usageError(fmt.Sprintf("no slot %q in traffic.slots of %q; it has: %s", s, env.Name, strings.Join(all, ", ")))
		}
		if !slices.ContainsFunc(out, func(p slotPair) bool { return p.slot == s }) {
			out = append(out, slotPair{slot: s, other: other(s)})
		}
	}
	return out, nil
}

// stepWindow is the analysis interval of env's first traffic step: what
// each round of a release measures, unless an SLO names its own window.
func stepWindow(env *runbooks.Environment) time.Duration {
	for _, s := range env.Steps {
		switch {
		case s.Canary != nil:
			return s.Canary.AnalysisInterval.Or(sloAnalysisInterval)
		case s.Linear != nil:
			return s.Linear.AnalysisInterval.Or(sloAnalysisInterval)
		case s.BlueGreen != nil:
			return s.BlueGreen.AnalysisInterval.Or(sloAnalysisInterval)
		case s.AllAtOnce != nil:
			return s.AllAtOnce.AnalysisInterval.Or(sloAnalysisInterval)
		}
	}
	return sloNoStepWindow
}

// sloPlan is the checks of one slot.
type sloPlan struct {
	slot, other string
	checks      []metrics.Check
}

// edgeBaseline gives the edge provider the history a release's worker
// would have: one scrape now, and the measurements once the longest
// window has passed. The provider is kept in acts, so the later
// measurements reach it.
func (v *sloCheckCmd) edgeBaseline(ctx context.Context, acts *metrics.Activities, plans []sloPlan) error {
	var wait time.Duration
	for _, p := range plans {
		for _, c := range p.checks {
			wait = max(wait, c.Query.Window)
			// Answers are inconclusive now by design; only the scrape counts.
			_, _ = acts.Measure(ctx, metrics.MeasureInput{Checks: []metrics.Check{c}})
		}
	}
	if !v.output.json() {
		fmt.Fprintf(v.a.out, "edge provider: it answers from its own scrapes; measuring again in %s\n", wait)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}

// measureOne runs one check now. A query that fails is reported as an
// error of that SLO, not of the whole check: the others still tell.
func measureOne(ctx context.Context, acts *metrics.Activities, env *runbooks.Environment, s runbooks.SLO, p sloPlan, c metrics.Check) sloResult {
	r := newSLOResult(env, s, p, c)
	res, err := acts.Measure(ctx, metrics.MeasureInput{Checks: []metrics.Check{c}})
	if err != nil {
		r.Verdict, r.Detail = verdictError, strings.TrimPrefix(err.Error(), `check 0 ("`+c.Name+`"): `)
		return r
	}
	r.measured(res.Measurements[0], c)
	return r
}
