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

var flagActs *flags.Activities

// defaultFlagInterval is how often a flag stage's bake measures the SLOs.
const defaultFlagInterval = 10 * time.Second

// flagKind rolls feature flags out in stages. Before it changes anything it
// reads every flag's whole definition from the provider and registers the
// undo that puts those back; each stage is read back before it bakes; a
// breach restores the definitions at once.
type flagKind struct {
	before []flags.Definition
}

// run moves the step's flags through its stages.
func (k *flagKind) run(ctx workflow.Context, e *environment, i int) error {
	s := e.plan[i].step
	st := s.Flag
	target := flagTarget(&e.in.Env, st)
	if err := k.readBefore(ctx, e, i, target); err != nil {
		return err
	}
	undo := &flagUndo{target: target, before: k.before}
	e.pushCompensation(compensation{step: s.Name, undo: undo})
	interval := st.AnalysisInterval.Or(defaultFlagInterval)
	for n, stage := range st.Stages {
		r := stageRollout(stage)
		if err := k.set(ctx, e, i, target, r, n+1, len(st.Stages)); err != nil {
			return err
		}
		if stage.Bake <= 0 {
			continue
		}
		if err := k.bakeStage(ctx, e, i, stage.Bake.D(), interval, r); err != nil {
			return err
		}
	}
	e.status.Steps[i].Detail = fmt.Sprintf("%s %s after %d stage(s)", strings.Join(st.Flags, ", "), stageRollout(st.Stages[len(st.Stages)-1]), len(st.Stages))
	return nil
}

// flagTarget is what the activities need to reach the step's flags.
func flagTarget(env *runbooks.Environment, st *runbooks.FlagStep) flags.Target {
	t := flags.Target{Flags: st.Flags}
	if env.Flags != nil {
		t.Provider, t.Options = env.Flags.Provider, env.Flags.Options
	}
	return t
}

// stageRollout is the rollout a stage sets.
func stageRollout(s runbooks.FlagStage) flags.Rollout {
	switch {
	case s.Off:
		return flags.Rollout{}
	case len(s.Segments) > 0:
		return flags.Rollout{On: true, Segments: s.Segments}
	case s.Percentage != nil:
		return flags.Rollout{On: *s.Percentage > 0, Percentage: *s.Percentage}
	}
	return flags.Rollout{}
}

// flagCtx runs a flag activity: a few attempts, then the step fails.
func flagCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 90 * time.Second, ScheduleToCloseTimeout: 5 * time.Minute, // flagd waits for its daemon to agree
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			NonRetryableErrorTypes: []string{flags.ErrTypeInvalid}},
		Summary: summary,
	})
}

// readBefore reads the flags as the step finds them: what a rollback puts
// back, read from the provider, not remembered from an earlier release.
func (k *flagKind) readBefore(ctx workflow.Context, e *environment, i int, target flags.Target) error {
	var res flags.ReadFlagsResult
	if err := workflow.ExecuteActivity(flagCtx(ctx, "read flags "+strings.Join(target.Flags, ", ")), flagActs.ReadFlags, target).Get(ctx, &res); err != nil {
		return err
	}
	k.before = res.Definitions
	name := e.plan[i].step.Name
	for _, d := range res.Definitions {
		e.status.Flags = append(e.status.Flags, FlagStatus{Flag: d.Flag, Step: name, Stages: len(e.plan[i].step.Flag.Stages),
			Rollout: d.Describe(), Previous: d.Describe()})
	}
	e.publish(ctx)
	return nil
}

// set applies stage n's rollout to every flag and records what the
// provider reads back.
func (k *flagKind) set(ctx workflow.Context, e *environment, i int, target flags.Target, r flags.Rollout, n, of int) error {
	var res flags.ReadFlagsResult
	err := workflow.ExecuteActivity(flagCtx(ctx, fmt.Sprintf("set %s %s", strings.Join(target.Flags, ", "), r)),
		flagActs.SetFlags, flags.SetFlagsInput{Target: target, Rollout: r}).Get(ctx, &res)
	if err != nil {
		return err
	}
	name := e.plan[i].step.Name
	for _, d := range res.Definitions {
		for j := range e.status.Flags {
			if f := &e.status.Flags[j]; f.Flag == d.Flag && f.Step == name {
				f.Stage, f.Rollout = n, d.Describe()
			}
		}
	}
	detail := fmt.Sprintf("%s %s (stage %d of %d)", strings.Join(target.Flags, ", "), r, n, of)
	e.status.Steps[i].Detail = detail
	e.audit(ctx, auditRecord{action: "flag.set", step: name, outcome: StateRunning, detail: detail})
	e.publish(ctx)
	e.slackProgress(ctx, fmt.Sprintf("%s: %s", name, detail))
	return nil
}

// bake analyses the SLOs for d at the current stage: a breach restores
// the flags and fails the step; an inconclusive analysis waits for a
// person (resume analyses the stage again).
func (k *flagKind) bake(ctx workflow.Context, e *environment, i int, d, interval time.Duration, r flags.Rollout) error {
	checks := flagChecks(e, interval)
	for {
		if len(checks) == 0 {
			return workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: fmt.Sprintf("bake %s at %s", d, r)}).Get(ctx, nil)
		}
		var res metrics.BakeResult
		err := workflow.ExecuteActivity(bakeCtx(ctx, d, interval), metricsActs.Bake, metrics.BakeInput{
			Checks: checks, Interval: interval, Duration: d, Score: ScorePolicy(&e.in.Env),
		}).Get(ctx, &res)
		if err != nil {
			return err
		}
		switch res.Verdict {
		case metrics.Fail:
			return k.breach(ctx, e, i, r, "SLO breach", describeFailing(res.Decisive))
		case metrics.Inconclusive:
			if f := k.hold(ctx, e, i, res.Decisive); f != nil {
				return f
			}
			continue
		}
		return nil
	}
}

// flagChecks are the environment's SLO checks, measured where the flag's
// subjects are served: the slot with the traffic (a flag changes the
// behaviour of the version that runs).
func flagChecks(e *environment, interval time.Duration) []metrics.Check {
	target := ""
	if e.slots != nil {
		target = e.slots.live
		if tr := e.status.Traffic; tr != nil && tr.Weights[e.slots.target] > tr.Weights[e.slots.live] {
			target = e.slots.target
		}
	}
	return FlagSLOChecks(&e.in.Env, target, e.vars(), interval)
}

// Variants a flag step's SLO templates may name as ${variant}.
const (
	flagVariantOn  = "on"
	flagVariantOff = "off"
)

// FlagSLOChecks are the checks of a flag step's analysis round: env's SLOs
// on slot (the one serving users), with ${variant} the subjects who get
// the feature (on) and, for a compare SLO, the baseline those who do not
// (off) on the same slot. SLOs whose templates carry no variant label
// judge the slot as a whole.
func FlagSLOChecks(env *runbooks.Environment, slot string, vars map[string]string, interval time.Duration) []metrics.Check {
	v := maps.Clone(vars)
	if v == nil {
		v = map[string]string{}
	}
	v[runbooks.VarVariant] = flagVariantOn
	return SLOChecks(env, slot, slot, v, interval)
}

// breach puts every flag back at once and fails the step with what
// decided it: cause (an SLO breach, an experiment's harm) and what was seen.
func (k *flagKind) breach(ctx workflow.Context, e *environment, i int, r flags.Rollout, cause, what string) error {
	name := e.plan[i].step.Name
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	target := flagTarget(&e.in.Env, e.plan[i].step.Flag)
	e.killOnBreach(dctx, name, target.Flags)
	if err := restoreFlags(dctx, e, name, target, k.before); err != nil {
		return fmt.Errorf("%s with %s %s (%s) and restoring the flags failed: %w", cause, strings.Join(target.Flags, ", "), r, what, err)
	}
	msg := fmt.Sprintf("%s with %s %s: %s; flags restored", cause, strings.Join(target.Flags, ", "), r, what)
	e.status.Steps[i].Detail = msg
	e.audit(ctx, auditRecord{action: "flag.breach", step: name, outcome: StateFailed, detail: msg})
	return &failure{cause: ErrTypeSLOBreach, message: msg}
}

// hold waits for a person after an inconclusive analysis.
func (k *flagKind) hold(ctx workflow.Context, e *environment, i int, decisive *metrics.MeasureResult) *failure {
	return k.holdFor(ctx, e, i, "analysis inconclusive: "+describeFailing(decisive)+"; resume to analyse the stage again, abort to restore the flags")
}

// holdFor pauses the step with msg until a person resumes or aborts.
func (k *flagKind) holdFor(ctx workflow.Context, e *environment, i int, msg string) *failure {
	e.status.Paused, e.status.PausedBy = true, holdByAnalysis
	e.status.Steps[i].Detail = msg
	e.audit(ctx, auditRecord{action: "flag.held", step: e.plan[i].step.Name, outcome: StatePaused, detail: msg})
	e.upsertAttrs(ctx)
	e.publish(ctx)
	return e.awaitUnpaused(ctx)
}

// restoreFlags puts the definitions back (read back by the activity) and
// records what the provider shows.
func restoreFlags(ctx workflow.Context, e *environment, step string, target flags.Target, before []flags.Definition) error {
	var res flags.ReadFlagsResult
	err := workflow.ExecuteActivity(flagCtx(ctx, "restore flags "+strings.Join(target.Flags, ", ")), flagActs.RestoreFlags,
		flags.RestoreFlagsInput{Provider: target.Provider, Options: target.Options, Definitions: before}).Get(ctx, &res)
	if err != nil {
		return err
	}
	for _, d := range res.Definitions {
		for j := range e.status.Flags {
			if f := &e.status.Flags[j]; f.Flag == d.Flag && f.Step == step {
				f.Rollout = d.Describe()
			}
		}
	}
	e.publish(ctx)
	return nil
}
