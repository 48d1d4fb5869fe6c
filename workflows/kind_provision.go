package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/runbooks"
)

// tfActs is the typed nil receiver of the provisioning activities.
var tfActs *terraform.Activities

// staleReplans bounds how often a refused (stale) plan is planned again
// before the step gives up: state that keeps changing under a release needs
// a person.
const staleReplans = 3

// provisionKind is the provision step kind (OpenTofu or Terraform).
type provisionKind struct{}

// run plans, gates when the plan deletes or
// replaces anything, then an apply of exactly that plan. A plan refused as
// stale is planned again (and gated again), never silently re-computed.
func (k *provisionKind) run(ctx workflow.Context, e *environment, i int) error {
	if e.in.Env.Infra == nil {
		// The validator refuses this; a hand-made workflow input could not.
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"environment %s has a provision step but no infra section", e.in.Env.Name), ErrTypeInvalid, nil)
	}
	ws := e.workspace(e.plan[i].step.Provision)
	st := &e.status.Steps[i]
	for attempt := 1; ; attempt++ {
		plan, err := e.tfPlan(ctx, ws)
		if err != nil {
			return err
		}
		st.Detail = fmt.Sprintf("plan %s: %s", shortHash(plan.PlanHash), plan.Summary.String())
		e.audit(ctx, auditRecord{action: "infra.planned", step: st.Name, outcome: plan.PlanHash, detail: plan.Summary.String()})
		e.publish(ctx)
		if plan.Changes && plan.Summary.Destructive() && k.destructiveNeedsApproval(e) {
			if f := k.gateDestructive(ctx, e, st, plan); f != nil {
				return f
			}
			// The approval may come after the release window closed.
			if err := e.hold(ctx, i); err != nil {
				return err
			}
		}
		if e.truthful {
			// Registered before the apply starts: an apply interrupted at
			// any moment may have changed resources, and the undo reads
			// the state to see.
			k.replaceInfraCompensation(e, st.Name, ws, plan)
		}
		outputs, err := e.tfApply(ctx, ws, plan)
		if isPlanStale(err) && attempt < staleReplans {
			if e.truthful {
				e.dropCompensation(st.Name)
			}
			e.audit(ctx, auditRecord{action: "infra.plan-stale", step: st.Name, outcome: plan.PlanHash, detail: staleDetail(err, plan)})
			continue
		}
		if err != nil {
			switch {
			case e.truthful && !mayHaveApplied(err):
				// Refused before OpenTofu ran: nothing of this plan exists.
				e.dropCompensation(st.Name)
			case !e.truthful && mayHaveApplied(err):
				// A failed or interrupted apply may have changed some
				// resources: the rollback must still undo them.
				k.pushInfraCompensation(e, st.Name, ws, plan)
			}
			return err
		}
		k.setOutputs(e, outputs)
		if !e.truthful {
			k.pushInfraCompensation(e, st.Name, ws, plan)
		}
		st.Detail = fmt.Sprintf("applied plan %s: %s", shortHash(plan.PlanHash), plan.Summary.String())
		return nil
	}
}

// workspace is the environment's infra module with the runbook's variables
// (the provision step's own vars override the environment's).
func (e *environment) workspace(step *runbooks.ProvisionStep) terraform.Workspace {
	infra := e.in.Env.Infra
	vars := map[string]string{}
	for _, k := range sortedKeys(infra.Vars) {
		vars[k] = runbooks.Expand(infra.Vars[k], e.vars())
	}
	if step != nil {
		for _, k := range sortedKeys(step.Vars) {
			vars[k] = runbooks.Expand(step.Vars[k], e.vars())
		}
	}
	ws := terraform.Workspace{
		Service: e.in.Service, Environment: e.in.Env.Name,
		Module: infra.Module, Vars: vars, Version: e.in.Version,
	}
	if e.slots != nil {
		ws.Slot = e.slots.target
	}
	return ws
}

func (k *provisionKind) destructiveNeedsApproval(e *environment) bool {
	p := e.in.Policy.DestructiveChangesNeedApproval
	return p == nil || *p
}

// gateDestructive asks a person to approve a plan that deletes or replaces
// resources; the gate shows the plan's summary and hash.
func (k *provisionKind) gateDestructive(ctx workflow.Context, e *environment, st *StepStatus, plan terraform.PlanResult) *failure {
	st.Gate = &GateStatus{
		Name:         st.Name,
		Approvers:    e.in.Env.Infra.Approvers,
		MinApprovals: 1,
		Instructions: fmt.Sprintf("The plan %s deletes or replaces infrastructure: %s. Approve to apply exactly this plan.",
			shortHash(plan.PlanHash), plan.Summary.String()),
	}
	f := e.awaitGate(ctx, st, e.in.Policy.ApprovalTimeout.Or(defaultApprovalTimeout))
	if f == nil {
		st.State = StateRunning
		e.publish(ctx)
	}
	return f
}

// tfPlan plans the workspace.
func (e *environment) tfPlan(ctx workflow.Context, ws terraform.Workspace) (terraform.PlanResult, error) {
	ctx = workflow.WithActivityOptions(ctx, e.tfOptions(30*time.Minute, "plan "+ws.Environment+" infra"))
	var res terraform.PlanResult
	err := workflow.ExecuteActivity(ctx, tfActs.Plan, terraform.PlanInput{Workspace: ws}).Get(ctx, &res)
	return res, err
}

// tfApply applies exactly the saved plan and returns the module's outputs.
// A plan without changes is applied too: it is cheap, and it records the
// release as the workspace's last applied one, which a later rollback
// restores.
func (e *environment) tfApply(ctx workflow.Context, ws terraform.Workspace, plan terraform.PlanResult) (map[string]terraform.Output, error) {
	opts := e.tfOptions(2*time.Hour, "apply plan "+shortHash(plan.PlanHash))
	if plan.TaskQueue != "" {
		// The plan file is on the disk of the worker that made it. If that
		// host is gone for good, the apply is never picked up: the timeout
		// turns into a new plan elsewhere.
		opts.TaskQueue, opts.ScheduleToStartTimeout = plan.TaskQueue, legacyApplyPickupTimeout
		if workflow.GetVersion(ctx, applyPickupChange, workflow.DefaultVersion, 1) >= 1 {
			opts.ScheduleToStartTimeout = applyPickupTimeout
		}
	}
	ctx = workflow.WithActivityOptions(ctx, opts)
	var res terraform.ApplyResult
	err := workflow.ExecuteActivity(ctx, tfActs.Apply, terraform.ApplyInput{
		Workspace: ws, PlanFile: plan.PlanFile, PlanHash: plan.PlanHash,
	}).Get(ctx, &res)
	return res.Outputs, err
}

// tfOptions are the activity options of OpenTofu commands: they heartbeat,
// so a dead worker is noticed within a minute, and a few retries cover
// transient failures (a held state lock among them). With the truthful
// rollback a cancelled command is awaited: OpenTofu gets an interrupt at
// the next heartbeat, stops gracefully and lets go of the state lock before
// the compensation plans against the same state.
func (e *environment) tfOptions(timeout time.Duration, summary string) workflow.ActivityOptions {
	opts := tfOptions(timeout, summary)
	if e.truthful {
		opts.HeartbeatTimeout, opts.WaitForCancellation = 15*time.Second, true
	}
	return opts
}

// tfOptions are the activity options of OpenTofu commands outside an
// environment (drift checks).
func tfOptions(timeout time.Duration, summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{terraform.ErrPlanStale, terraform.ErrInvalid, terraform.ErrNotFound},
		},
		Summary: summary,
	}
}

// mayHaveApplied reports whether a failed apply may have changed anything:
// everything but a refused plan or an unusable module or binary.
func mayHaveApplied(err error) bool {
	if isPlanStale(err) {
		return false
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case terraform.ErrInvalid, terraform.ErrNotFound:
			return false
		}
	}
	return true
}

// applyPickupTimeout bounds how long an apply waits for the worker holding
// its plan. A worker that restarts on its host is back well within it; a
// host that is gone (the two-worker kill test: TestTwoWorkersOneKilled) is
// noticed after the apply's heartbeat timeout plus this, and the step plans
// again on a worker that is alive. Ten minutes (legacyApplyPickupTimeout)
// held every release up that long for a dead host.
const applyPickupTimeout = time.Minute

// legacyApplyPickupTimeout is the pickup timeout of releases started before
// applyPickupChange.
const legacyApplyPickupTimeout = 10 * time.Minute

// applyPickupChange shortens the apply's pickup timeout. The timeout is an
// attribute of the command, not a new command, but releases in flight keep
// the one they were started with.
const applyPickupChange = "apply-pickup-1m"

// staleDetail says why a plan is made again. A plan whose apply no worker
// picked up belongs to a host that is gone, maybe in the middle of that very
// apply: OpenTofu dies with its worker, so a change it was making then is
// not in the state, and the new plan makes it again. The apply's last
// heartbeat says how far it got, so the record names what to check.
func staleDetail(err error, plan terraform.PlanResult) string {
	var timeout *temporal.TimeoutError
	if !errors.As(err, &timeout) || timeout.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		return rootMessage(err)
	}
	msg := fmt.Sprintf("no worker on %s picked up the apply of plan %s: the host holding the plan is gone; planned again on a live worker",
		plan.TaskQueue, shortHash(plan.PlanHash))
	var p terraform.Progress
	if !timeout.HasLastHeartbeatDetails() || timeout.LastHeartbeatDetails(&p) != nil || p.Phase != "apply" {
		return msg
	}
	msg += fmt.Sprintf(". Its apply had started there (%d of %d changes done", p.Done, p.Total)
	if p.Current != "" {
		msg += ", at " + p.Current
	}
	return msg + "): a change cut short there is not in the state and is made again; check the real resources for a leftover"
}

// isPlanStale reports whether a plan must be made again: OpenTofu refused it
// as stale, or the worker holding it never picked up the apply.
func isPlanStale(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == terraform.ErrPlanStale {
		return true
	}
	var timeout *temporal.TimeoutError
	return errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START
}

// setOutputs makes the module's outputs available to later steps as
// ${outputs.NAME}. Sensitive outputs are left out on purpose: they must not
// reach URLs, status or history.
func (k *provisionKind) setOutputs(e *environment, outputs map[string]terraform.Output) {
	e.outputs = map[string]string{}
	for _, name := range sortedKeys(outputs) {
		o := outputs[name]
		if o.Sensitive {
			continue
		}
		e.outputs[name] = outputText(o)
	}
}

// outputText renders an output for use in a string: strings unquoted, other
// types as their JSON.
func outputText(o terraform.Output) string {
	v := strings.TrimSpace(string(o.Value))
	if len(v) >= 2 && v[0] == '"' {
		var s string
		if err := json.Unmarshal([]byte(v), &s); err == nil {
			return s
		}
	}
	return v
}

func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// sortedKeys returns m's keys in order: workflow code must not depend on map
// iteration order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// assess plans the step for the risk assessment: a plan that deletes or
// replaces anything, or no plan at all, is high risk.
func (k *provisionKind) assess(ctx workflow.Context, e *environment, s runbooks.Step, preview *changePreview) []riskFact {
	var facts []riskFact
	plan, err := e.tfPlan(ctx, e.workspace(s.Provision))
	switch {
	case err != nil:
		facts = append(facts, riskFact{level: runbooks.RiskHigh, reason: "no plan for " + s.Name + ": " + rootMessage(err)})
		preview.changes = append(preview.changes, "infrastructure: no plan ("+rootMessage(err)+")")
	case plan.Summary.Destructive():
		facts = append(facts, riskFact{level: runbooks.RiskHigh, reason: "the plan deletes or replaces infrastructure: " + plan.Summary.String()})
		preview.changes = append(preview.changes, "infrastructure: "+plan.Summary.String())
	case plan.Changes:
		preview.changes = append(preview.changes, "infrastructure: "+plan.Summary.String())
	default:
		preview.changes = append(preview.changes, "infrastructure: no changes")
	}
	return facts
}

// gatePreview plans the first provision step after a gate for its message.
func (k *provisionKind) gatePreview(ctx workflow.Context, e *environment, s runbooks.Step, preview *changePreview) {
	if preview.changes != nil {
		return
	}
	plan, err := e.tfPlan(ctx, e.workspace(s.Provision))
	switch {
	case err != nil:
		preview.changes = []string{"infrastructure: no plan (" + rootMessage(err) + ")"}
	case !plan.Changes:
		preview.changes = []string{"infrastructure: no changes"}
	default:
		preview.changes = []string{"infrastructure: " + plan.Summary.String()}
	}
}
