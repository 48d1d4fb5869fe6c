package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/history"
	"github.com/runbookhq/runbook/runbooks"
)

// BuiltinRisk is the built-in step of runbooks with a risk policy: it works
// out the environment's risk level and adds the gates the level needs.
const BuiltinRisk = "assess-risk"

// defaultLargeChange is the changed-line count from which a change is large.
const defaultLargeChange = 500

var historyActs *history.Activities

// RiskStatus is the environment's risk level, why, and the gates it added.
type RiskStatus struct {
	Level   string   `json:"level"`
	Reasons []string `json:"reasons"`
	Gates   []string `json:"gates,omitempty"`
}

// String is "high: reason; reason".
func (r *RiskStatus) String() string {
	if r == nil {
		return ""
	}
	if len(r.Reasons) == 0 {
		return r.Level + ": nothing raised it"
	}
	return r.Level + ": " + strings.Join(r.Reasons, "; ")
}

// riskFact is one thing that raises the risk: to at least level, or, when
// bump is set, by one level.
type riskFact struct {
	level  string
	bump   bool
	reason string
}

var riskOrder = []string{runbooks.RiskLow, runbooks.RiskMedium, runbooks.RiskHigh}

// scoreRisk turns facts into a level: the highest level any fact sets,
// then one up per bump, at most high.
func scoreRisk(facts []riskFact) RiskStatus {
	level, bumps := 0, 0
	r := RiskStatus{Reasons: []string{}}
	for _, f := range facts {
		if f.bump {
			bumps++
		} else {
			level = max(level, slices.Index(riskOrder, f.level))
		}
		r.Reasons = append(r.Reasons, f.reason)
	}
	r.Level = riskOrder[min(level+bumps, len(riskOrder)-1)]
	return r
}

// riskKind is the built-in assess-risk step of policies with a risk section.
type riskKind struct{}

// run gathers the facts, sets the level
// and inserts the level's gates right after itself.
func (k *riskKind) run(ctx workflow.Context, e *environment, i int) error {
	r := scoreRisk(k.riskFacts(ctx, e))
	gates := e.in.Policy.Risk.Gates(r.Level)
	for _, g := range gates {
		r.Gates = append(r.Gates, g.Name)
	}
	e.status.Risk = &r
	upsertChanged(ctx, AttrRisk, r.Level)
	k.insertGates(e, i+1, gates)
	st := &e.status.Steps[i]
	st.Detail = "risk " + r.String()
	if len(gates) > 0 {
		st.Detail += " — needs gate(s) " + strings.Join(r.Gates, ", ")
	}
	e.audit(ctx, auditRecord{action: "risk.assessed", step: BuiltinRisk, outcome: r.Level, detail: st.Detail})
	return nil
}

// riskFacts collects what the release already knows: production, break-
// glass, the plans and migrations ahead, the previous release and the size
// of the change. What it learns about the plan and the migrations is kept
// for the Slack gate messages too.
func (k *riskKind) riskFacts(ctx workflow.Context, e *environment) []riskFact {
	var facts []riskFact
	if e.in.Env.IsProduction() {
		facts = append(facts, riskFact{level: runbooks.RiskMedium, reason: "production environment"})
	}
	if e.in.BreakGlass != nil {
		facts = append(facts, riskFact{level: runbooks.RiskHigh, reason: "break-glass release: " + e.in.BreakGlass.Reason})
	}
	facts = append(facts, k.changeFacts(ctx, e)...)
	if f, ok := k.previousReleaseFact(ctx, e); ok {
		facts = append(facts, f)
	}
	if f, ok := k.sizeFact(e); ok {
		facts = append(facts, f)
	}
	return facts
}

// changeFacts asks every step kind that can preview its change (previewer)
// what it would change: the facts weigh in the risk, the preview is kept for
// the Slack gate messages. What cannot be known counts as high: an unknown
// change is no safe one.
func (k *riskKind) changeFacts(ctx workflow.Context, e *environment) []riskFact {
	var facts []riskFact
	preview := &changePreview{}
	for _, p := range e.plan {
		if pv, ok := p.kind.(previewer); ok {
			facts = append(facts, pv.assess(ctx, e, p.step, preview)...)
		}
	}
	e.preview = preview
	return facts
}

// previousReleaseFact raises the risk when the service's last release into
// this environment failed or was rolled back.
func (k *riskKind) previousReleaseFact(ctx workflow.Context, e *environment) (riskFact, bool) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
		Summary:             "previous release of " + e.status.WorkflowID,
	})
	var prev history.PreviousReleaseResult
	err := workflow.ExecuteActivity(actx, historyActs.PreviousRelease, history.PreviousReleaseInput{WorkflowID: e.status.WorkflowID}).Get(ctx, &prev)
	switch {
	case err != nil:
		return riskFact{bump: true, reason: "the previous release could not be read: " + rootMessage(err)}, true
	case !prev.Found:
		return riskFact{}, false
	case prev.State == StateRollbackIncomplete:
		// Whatever it left (traffic, schema, resources) is still there:
		// releasing over it needs the strictest policy.
		return riskFact{level: runbooks.RiskHigh, reason: fmt.Sprintf("the previous release (%s) into %s ended %s: what it left may still be in place",
			prev.Version, e.status.Name, prev.State)}, true
	case prev.State == StateRolledBack || prev.State == StateFailed || prev.State == StateAborted:
		return riskFact{bump: true, reason: fmt.Sprintf("the previous release (%s) into %s ended %s",
			prev.Version, e.status.Name, prev.State)}, true
	}
	return riskFact{}, false
}

// sizeFact raises the risk for a change at least policy.risk.large-change
// lines long, when the deploy said how large it is.
func (k *riskKind) sizeFact(e *environment) (riskFact, bool) {
	b := e.in.Build
	if b == nil || b.ChangedLines == 0 {
		return riskFact{}, false
	}
	limit := e.in.Policy.Risk.LargeChange
	if limit == 0 {
		limit = defaultLargeChange
	}
	if b.ChangedLines < limit {
		return riskFact{}, false
	}
	what := fmt.Sprintf("large change: %d changed lines", b.ChangedLines)
	if b.Commits > 0 {
		what += fmt.Sprintf(" in %d commits", b.Commits)
	}
	if b.CommitRange != "" {
		what += " (" + b.CommitRange + ")"
	}
	return riskFact{bump: true, reason: fmt.Sprintf("%s, %d or more is large", what, limit)}, true
}

// insertGates adds approval gates to the plan and the status at index at.
func (k *riskKind) insertGates(e *environment, at int, gates []runbooks.Approval) {
	var ps []plannedStep
	var ss []StepStatus
	for _, a := range gates {
		p := gatePlan(a)
		ps, ss = append(ps, p), append(ss, newStepStatus(p, e.in.Policy))
	}
	e.plan = slices.Insert(e.plan, at, ps...)
	e.status.Steps = slices.Insert(e.status.Steps, at, ss...)
}
