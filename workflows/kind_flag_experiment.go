package workflows

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/flags"
	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/runbooks"
)

// ActionFlagExperiment is the audit action of an experiment's result.
const ActionFlagExperiment = "flag.experiment"

// Flag variants an experiment compares: the treatment and the control.
const (
	variantOn  = "on"
	variantOff = "off"
)

// bakeStage bakes stage r and, when the step has an experiment, compares
// the variants over that bake. It runs the bake again after a person
// resumes an inconclusive experiment, so the next verdict is on fresh
// traffic. Steps without an experiment run exactly the bake they always
// did: the experiment's commands exist only in the histories of inputs
// with `experiment:`, so no workflow.GetVersion is needed.
func (k *flagKind) bakeStage(ctx workflow.Context, e *environment, i int, d, interval time.Duration, r flags.Rollout) error {
	x := e.plan[i].step.Flag.Experiment
	for {
		start := workflow.Now(ctx)
		if err := k.bake(ctx, e, i, d, interval, r); err != nil || x == nil {
			return err
		}
		again, err := k.experiment(ctx, e, i, d, interval, start, r)
		if err != nil || !again {
			return err
		}
	}
}

// experiment compares the variants over the bake that began at start and
// acts on the verdict: harm fails the stage like an SLO breach (flags
// restored); too few samples holds for a person (again: bake and compare
// once more) unless the experiment is not required.
func (k *flagKind) experiment(ctx workflow.Context, e *environment, i int, d, interval time.Duration, start time.Time, r flags.Rollout) (again bool, err error) {
	x := e.plan[i].step.Flag.Experiment
	var res metrics.ExperimentResult
	if err := workflow.ExecuteActivity(experimentCtx(ctx, x.Metric), metricsActs.Experiment,
		experimentInput(e, x, d, interval, start)).Get(ctx, &res); err != nil {
		return false, err
	}
	k.recordExperiment(ctx, e, i, r, &res)
	switch res.Verdict {
	case metrics.ExperimentHarm:
		return false, k.breach(ctx, e, i, r, "experiment harm", fmt.Sprintf("%s significantly lower at %g%% confidence: %s", x.Metric, 100*x.Conf(), res.Detail))
	case metrics.ExperimentInconclusive:
		if !x.Required() {
			return false, nil
		}
		msg := fmt.Sprintf("experiment %s inconclusive: %s; resume to bake and compare again, abort to restore the flags", x.Metric, res.Detail)
		if f := k.holdFor(ctx, e, i, msg); f != nil {
			return false, f
		}
		return true, nil
	}
	return false, nil
}

// recordExperiment puts the result in the flags' status, the audit log
// and Slack.
func (k *flagKind) recordExperiment(ctx workflow.Context, e *environment, i int, r flags.Rollout, res *metrics.ExperimentResult) {
	name := e.plan[i].step.Name
	for j := range e.status.Flags {
		if f := &e.status.Flags[j]; f.Step == name {
			f.Experiment = res
		}
	}
	detail := fmt.Sprintf("experiment %s with %s %s: %s: %s", res.Metric, strings.Join(e.plan[i].step.Flag.Flags, ", "), r, res.Verdict, res.Detail)
	outcome := StateRunning
	if res.Verdict == metrics.ExperimentHarm {
		outcome = StateFailed
	}
	e.audit(ctx, auditRecord{action: ActionFlagExperiment, step: name, outcome: outcome, detail: detail})
	e.publish(ctx)
	e.slackProgress(ctx, fmt.Sprintf("%s: %s", name, detail))
}

// experimentInput is what the activity queries: the template's queries
// once per variant, the environment's provider, the bake's window.
func experimentInput(e *environment, x *runbooks.Experiment, d, interval time.Duration, start time.Time) metrics.ExperimentInput {
	m := e.in.Env.Metrics
	t := m.Templates[x.Metric]
	side := func(variant string) metrics.VariantQueries {
		v := maps.Clone(e.vars())
		v[runbooks.VarVariant] = variant
		return metrics.VariantQueries{Good: runbooks.Expand(t.Good, v), Total: runbooks.Expand(t.Total, v), Value: runbooks.Expand(t.Value, v)}
	}
	return metrics.ExperimentInput{Metric: x.Metric, Kind: x.Kind, Provider: m.Provider, Options: m.Options,
		On: side(variantOn), Off: side(variantOff), Window: d, Since: start, Step: interval,
		MaxHarm: x.MaxHarm, Confidence: x.Conf(), MinSamples: x.Samples()}
}

// experimentCtx runs the comparison: a few queries, retried on provider
// errors, never on an invalid input.
func experimentCtx(ctx workflow.Context, metric string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			NonRetryableErrorTypes: []string{metrics.ErrTypeInvalidCheck}},
		Summary: "compare " + metric + " between the variants",
	})
}
