package workflows

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/runbooks"
)

// --- a scripted OpenTofu ----------------------------------------------------

const testModule = "/srv/infra/checkout"

// Plan hashes as the activity reports them; shortHash shows 12 hex digits.
var (
	hashA = "sha256:" + strings.Repeat("a1", 32)
	hashB = "sha256:" + strings.Repeat("b2", 32)
	hashC = "sha256:" + strings.Repeat("c3", 32)
)

func short(hash string) string { return strings.TrimPrefix(hash, "sha256:")[:12] }

var (
	addOne = terraform.PlanSummary{Add: 1,
		Resources: []terraform.ResourceChange{{Address: "terraform_data.app", Action: "create"}}}
	replaceOne = terraform.PlanSummary{Replace: 1,
		Resources: []terraform.ResourceChange{{Address: "terraform_data.lb", Action: "replace"}}}
	destroyOne = terraform.PlanSummary{Destroy: 1,
		Resources: []terraform.ResourceChange{{Address: "terraform_data.old", Action: "delete"}}}
)

// planned is a saved plan with changes, as Plan returns it.
func planned(hash string, s terraform.PlanSummary) terraform.PlanResult {
	return terraform.PlanResult{Changes: true, PlanFile: "/var/lib/runbook/state/checkout/production/runbook-" +
		short(hash) + ".tfplan", PlanHash: hash, Summary: s}
}

// withPrevious marks a plan as made for a workspace a release applied before.
func withPrevious(p terraform.PlanResult, version string, vars map[string]string) terraform.PlanResult {
	p.Previous, p.PreviousVersion = vars, version
	return p
}

// fakeTF answers the terraform activities from scripts and records every
// call. The n-th Plan returns plans[n] (the last one repeats); the n-th
// Apply returns applyErrs[n] (nil past the end) or outputs.
type fakeTF struct {
	h         *harness
	mu        sync.Mutex
	plans     []terraform.PlanResult
	applyErrs []error
	outputs   map[string]terraform.Output
	drift     terraform.DriftResult
	// driftBySlot, when it has the workspace's slot, answers for that slot.
	driftBySlot map[string]terraform.DriftResult
	driftErr    error

	planIn    []terraform.PlanInput
	applyIn   []terraform.ApplyInput
	applyAt   []time.Time // workflow clock when each Apply ran
	applyTQ   []string    // task queue of each Apply
	destroyIn []terraform.DestroyInput
	driftIn   []terraform.DriftInput
	// applied are the variables of the last successful apply: a later plan
	// of the same variables has no changes, as with real state. Nil before
	// any apply and after a destroy.
	applied map[string]string
	// resources is what a read of the state finds (Resources).
	resources []string
	// beforeApply, if set, runs as Apply starts, before its effect
	// (outside the lock).
	beforeApply func()
}

// newTF registers the terraform activities (so mocks resolve) and mocks
// them with a script.
func newTF(h *harness, plans ...terraform.PlanResult) *fakeTF {
	f := &fakeTF{h: h, plans: plans}
	h.env.RegisterActivityWithOptions(&terraform.Activities{}, activity.RegisterOptions{DisableAlreadyRegisteredCheck: true})
	h.env.OnActivity(tfActs.Plan, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in terraform.PlanInput) (terraform.PlanResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.planIn = append(f.planIn, in)
			require.NotEmpty(h.t, f.plans, "Plan called without a scripted plan")
			if len(f.planIn) > len(f.plans) && f.applied != nil && maps.Equal(f.applied, in.Workspace.Vars) {
				return terraform.PlanResult{}, nil // the state is what these variables make
			}
			return f.plans[min(len(f.planIn), len(f.plans))-1], nil
		})
	h.env.OnActivity(tfActs.Apply, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in terraform.ApplyInput) (terraform.ApplyResult, error) {
			if f.beforeApply != nil {
				f.beforeApply()
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			n := len(f.applyIn)
			f.applyIn = append(f.applyIn, in)
			f.applyAt = append(f.applyAt, h.env.Now())
			f.applyTQ = append(f.applyTQ, activity.GetInfo(ctx).TaskQueue)
			if n < len(f.applyErrs) && f.applyErrs[n] != nil {
				return terraform.ApplyResult{}, f.applyErrs[n]
			}
			f.applied, f.resources = in.Workspace.Vars, []string{"terraform_data.app"}
			return terraform.ApplyResult{Outputs: f.outputs, Applied: 1, Total: 1}, nil
		})
	h.env.OnActivity(tfActs.Destroy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in terraform.DestroyInput) (terraform.DestroyResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.destroyIn = append(f.destroyIn, in)
			f.applied, f.resources = nil, nil
			return terraform.DestroyResult{Destroyed: 1}, nil
		})
	h.env.OnActivity(tfActs.Resources, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in terraform.ResourcesInput) (terraform.ResourcesResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return terraform.ResourcesResult{Addresses: f.resources}, nil
		})
	h.env.OnActivity(tfActs.Drift, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in terraform.DriftInput) (terraform.DriftResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.driftIn = append(f.driftIn, in)
			if r, ok := f.driftBySlot[in.Workspace.Slot]; ok {
				return r, nil
			}
			return f.drift, f.driftErr
		})
	return f
}

func (f *fakeTF) plansIn() []terraform.PlanInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]terraform.PlanInput(nil), f.planIn...)
}

func (f *fakeTF) appliesIn() []terraform.ApplyInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]terraform.ApplyInput(nil), f.applyIn...)
}

func (f *fakeTF) driftsIn() []terraform.DriftInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]terraform.DriftInput(nil), f.driftIn...)
}

func (f *fakeTF) destroysIn() []terraform.DestroyInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]terraform.DestroyInput(nil), f.destroyIn...)
}

// appliedHashes lists the PlanHash of every Apply, in order.
func (f *fakeTF) appliedHashes() []string {
	var out []string
	for _, in := range f.appliesIn() {
		out = append(out, in.PlanHash)
	}
	return out
}

func staleErr() error {
	return temporal.NewNonRetryableApplicationError("stale: the state changed since the plan", terraform.ErrPlanStale, nil)
}

func stringOutput(s string) terraform.Output {
	v, _ := json.Marshal(s)
	return terraform.Output{Type: "string", Value: v}
}

// --- runbook builders ----------------------------------------------------------

func provisionStep(name string, vars map[string]string) runbooks.Step {
	return runbooks.Step{Name: name, Provision: &runbooks.ProvisionStep{Vars: vars}}
}

// infraEnv is "production" with the test module and steps.
func infraEnv(infra runbooks.Infra, steps ...runbooks.Step) runbooks.Environment {
	e := envSpec("production", steps...)
	if infra.Module == "" {
		infra.Module = testModule
	}
	e.Infra = &infra
	return e
}

// releaseWorkspace is the workspace of the test release without variables.
func releaseWorkspace(vars map[string]string) terraform.Workspace {
	if vars == nil {
		vars = map[string]string{}
	}
	return terraform.Workspace{Service: testService, Environment: "production", Module: testModule,
		Vars: vars, Version: testVersion}
}

func auditEntry(t *testing.T, h *harness, action string) audit.Entry {
	t.Helper()
	for _, e := range h.auditEntries() {
		if e.Action == action {
			return e
		}
	}
	t.Fatalf("no audit record %s; actions: %v", action, h.auditActions())
	return audit.Entry{}
}

func succeeded(t *testing.T, h *harness) EnvironmentStatus {
	t.Helper()
	require.NoError(t, h.env.GetWorkflowError())
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateSucceeded, res.Status.State)
	return res.Status
}

// --- 1. non-destructive plan, exact apply, outputs ------------------------------

func TestProvisionAppliesExactlyTheSavedPlan(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne))
	tf.outputs = map[string]terraform.Output{
		"url":  stringOutput(h.srv.url("/app")),
		"port": {Type: "number", Value: json.RawMessage(`8080`)},
		"tags": {Type: "list(string)", Value: json.RawMessage(`["a","b"]`)},
	}
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{},
		provisionStep("infra", nil),
		check("health", "${outputs.url}/healthz?port=${outputs.port}"))))

	st := succeeded(t, h)
	plans, applies := tf.plansIn(), tf.appliesIn()
	require.Len(t, plans, 1)
	require.Equal(t, terraform.PlanInput{Workspace: releaseWorkspace(nil)}, plans[0])
	require.Equal(t, []terraform.ApplyInput{{Workspace: releaseWorkspace(nil),
		PlanFile: planned(hashA, addOne).PlanFile, PlanHash: hashA}}, applies)

	infra := step(t, st, "infra")
	require.Equal(t, StateSucceeded, infra.State)
	require.Equal(t, runbooks.KindProvision, infra.Kind)
	require.Nil(t, infra.Gate, "a plan that only adds needs no approval")
	require.Equal(t, "applied plan "+short(hashA)+": "+addOne.String(), infra.Detail)
	require.Contains(t, infra.Detail, "1 to add, 0 to change, 0 to replace, 0 to destroy: terraform_data.app (create)")

	rec := auditEntry(t, h, "infra.planned")
	require.Equal(t, hashA, rec.Outcome)
	require.Equal(t, "infra", rec.Step)
	require.Equal(t, addOne.String(), rec.Detail)
	require.NotContains(t, h.auditActions(), "gate.waiting infra waiting")

	// The output reached the next step: the server saw the expanded path,
	// and a number output is its JSON text.
	require.Equal(t, []string{h.srv.url("/app/healthz?port=8080")}, h.calls())
	hits := h.srv.all()
	require.Len(t, hits, 1)
	require.Equal(t, "/app/healthz", hits[0].Path)
	require.Equal(t, "port=8080", hits[0].Query)
	require.Contains(t, step(t, st, "health").Detail, h.srv.url("/app/healthz"))

	// A succeeded environment keeps its rollback plan, marked not needed.
	require.Equal(t, []CompensationStatus{{Step: "infra",
		Action: "destroy the production infrastructure this release created", State: StateNotNeeded}}, st.Compensations)
	require.Empty(t, tf.destroysIn())
	h.verifyAudit()
}

// A sensitive output never becomes ${outputs.NAME}: a step that uses it
// fails without any attempt, naming the output, and the release rolls back.
func TestSensitiveOutputIsNotExposed(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne))
	tf.outputs = map[string]terraform.Output{
		"url":   stringOutput(h.srv.url("/app")),
		"token": {Type: "string", Sensitive: true},
	}
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{},
		provisionStep("infra", nil),
		check("login", "${outputs.url}/login?token=${outputs.token}"),
		check("smoke", h.srv.url("/smoke")))))

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	login := step(t, st, "login")
	require.Equal(t, StateFailed, login.State)
	require.Contains(t, login.Error, "${outputs.token}")
	require.Contains(t, login.Error, "sensitive")
	require.Contains(t, login.Error, "no usable output for ${outputs.token}", "the message names the unusable output")
	require.Contains(t, appErr.Message(), "${outputs.token}")
	require.Empty(t, h.calls(), "the check never ran: the error is not retried")
	require.Empty(t, h.srv.requests())
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)

	// The rollback undid the provision (a first release: destroy).
	require.Equal(t, []terraform.DestroyInput{{Workspace: releaseWorkspace(nil)}}, tf.destroysIn())
	require.Equal(t, StateCompensated, step(t, st, "infra").State)
	require.Equal(t, StateDone, st.Compensations[0].State)
	require.Contains(t, h.auditActions(), "compensation.ran infra done")
}

// --- 2. the workspace ------------------------------------------------------------

func TestProvisionWorkspaceVariables(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne))
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{
		Module: "/srv/modules/web",
		Vars: map[string]string{
			"image":     "registry.example.com/checkout:${version}",
			"artifact":  "${artifact}",
			"env_name":  "${environment}-${service}",
			"api_token": "env:TOKEN",
			"size":      "small",
			"replicas":  "2",
		},
	}, provisionStep("infra", map[string]string{"size": "large", "zone": "${environment}-a"}))))

	succeeded(t, h)
	want := terraform.Workspace{Service: testService, Environment: "production", Module: "/srv/modules/web",
		Version: testVersion, Vars: map[string]string{
			"image":     "registry.example.com/checkout:1.4.2",
			"artifact":  "file://" + h.artifactPath,
			"env_name":  "production-checkout",
			"api_token": "env:TOKEN", // a reference: the worker resolves it, never the workflow
			"size":      "large",     // provision.vars override infra.vars
			"replicas":  "2",
			"zone":      "production-a",
		}}
	require.Equal(t, []terraform.PlanInput{{Workspace: want}}, tf.plansIn())
	applies := tf.appliesIn()
	require.Len(t, applies, 1)
	require.Equal(t, want, applies[0].Workspace)
}

// --- 3. destructive plans need a person ---------------------------------------------

func TestDestructivePlanWaitsForApproval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		summary terraform.PlanSummary
	}{
		{"replace", replaceOne},
		{"destroy", destroyOne},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tf := newTF(h, planned(hashB, tc.summary))
			var during EnvironmentStatus
			var appliesWhileWaiting int
			var self, approve *updateOutcome
			h.at(time.Minute, func() {
				during = h.envStatus()
				appliesWhileWaiting = len(tf.appliesIn())
				self = h.update(UpdateApprove, DecisionInput{Actor: testRequester})
			})
			h.at(2*time.Minute, func() {
				approve = h.update(UpdateApprove, DecisionInput{Actor: "carol", Comment: "lb replacement expected"})
			})
			h.runEnvironment(envInput(infraEnv(runbooks.Infra{},
				provisionStep("infra", nil), check("smoke", h.srv.url("/smoke")))))

			// While waiting: a gate on the step, showing the plan.
			infra := step(t, during, "infra")
			require.Equal(t, StateWaiting, infra.State)
			require.NotNil(t, infra.Gate)
			require.Equal(t, StateWaiting, infra.Gate.State)
			require.Equal(t, "infra", infra.Gate.Name)
			require.Contains(t, infra.Gate.Instructions, short(hashB))
			require.Contains(t, infra.Gate.Instructions, tc.summary.String())
			require.Len(t, during.PendingGates(), 1)
			require.Zero(t, appliesWhileWaiting, "applied before anyone approved")
			require.Empty(t, during.Compensations)

			requireRejected(t, self, "may not approve it (separation of duties")
			requireDecision(t, approve, DecisionResult{Gate: "infra", GateState: StateApproved, Approvals: 1, Needed: 1})

			st := succeeded(t, h)
			require.Equal(t, []string{hashB}, tf.appliedHashes())
			infra = step(t, st, "infra")
			require.Equal(t, StateSucceeded, infra.State)
			require.Equal(t, StateApproved, infra.Gate.State)
			require.Equal(t, "carol", infra.Gate.Approvals[0].Actor)
			require.Equal(t, "applied plan "+short(hashB)+": "+tc.summary.String(), infra.Detail)
			require.Equal(t, []string{"GET /smoke"}, h.srv.requests())

			actions := h.auditActions()
			order := []string{"infra.planned infra " + hashB, "gate.waiting infra waiting",
				"gate.approved infra approved", "step.succeeded infra succeeded"}
			prev := -1
			for _, a := range order {
				i := indexOf(actions, a)
				require.Greater(t, i, prev, "%q out of order or missing: %v", a, actions)
				prev = i
			}
			require.Equal(t, "carol", auditEntry(t, h, "gate.approved").Actor)
			h.verifyAudit()
		})
	}
}

func TestRejectedDestructivePlanIsNeverApplied(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashB, replaceOne))
	var reject *updateOutcome
	h.at(time.Minute, func() {
		reject = h.update(UpdateReject, DecisionInput{Actor: "carol", Comment: "do not replace the lb"})
	})
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{},
		undo(check("announce", h.srv.url("/announce")), h.srv.url("/undo/announce")),
		provisionStep("infra", nil),
		check("smoke", h.srv.url("/smoke")))))

	requireDecision(t, reject, DecisionResult{Gate: "infra", GateState: StateRejected, Approvals: 0, Needed: 1})
	st, appErr := h.failedEnv(ErrTypeRejected)
	require.Equal(t, "rejected by carol at gate infra: do not replace the lb", appErr.Message())
	require.Equal(t, StateRolledBack, st.State)
	require.Empty(t, tf.appliesIn(), "a rejected plan must never be applied")
	require.Empty(t, tf.destroysIn(), "nothing was provisioned, nothing to destroy")
	infra := step(t, st, "infra")
	require.Equal(t, StateRejected, infra.State)
	require.Equal(t, StateRejected, infra.Gate.State)
	require.Equal(t, StateNotReached, step(t, st, "smoke").State)
	require.Equal(t, StateCompensated, step(t, st, "announce").State)
	require.Equal(t, []string{"GET /announce", "POST /undo/announce"}, h.srv.requests())
	require.Equal(t, []CompensationStatus{{Step: "announce", Action: "POST " + h.srv.url("/undo/announce"),
		State: StateDone, ReadBack: "hook answered 200"}}, st.Compensations)
}

func TestDestructivePlanWithoutApprovalByPolicy(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashB, replaceOne))
	in := envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil)))
	no := false
	in.Policy.DestructiveChangesNeedApproval = &no
	h.runEnvironment(in)

	st := succeeded(t, h)
	require.Equal(t, []string{hashB}, tf.appliedHashes())
	require.Nil(t, step(t, st, "infra").Gate)
	for _, a := range h.auditActions() {
		require.False(t, strings.HasPrefix(a, "gate."), "no gate expected: %v", h.auditActions())
	}
}

// Approvals can take hours: a destructive plan approved after the release
// window closed waits for the next opening before it is applied, like any
// step after a late approval (TestStepAfterLateApprovalWaitsForNextWindow).
func TestDestructiveApplyAfterLateApprovalWaitsForWindow(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2025-06-02T10:00:00Z"))
	tf := newTF(h, planned(hashB, replaceOne))
	h.at(8*time.Hour, func() { // 18:00, after the window closed at 17:00
		h.update(UpdateApprove, DecisionInput{Actor: "carol"})
	})
	e := infraEnv(runbooks.Infra{}, provisionStep("infra", nil))
	e.ReleaseWindow = &runbooks.ReleaseWindow{Start: "09:00", End: "17:00"}
	h.runEnvironment(envInput(e))

	succeeded(t, h)
	tf.mu.Lock()
	applyAt := append([]time.Time(nil), tf.applyAt...)
	tf.mu.Unlock()
	require.Len(t, applyAt, 1)
	require.False(t, applyAt[0].Before(utc("2025-06-03T09:00:00Z")),
		"the plan was applied at %s, outside the release window", applyAt[0].UTC().Format(time.RFC3339))
}

// --- 4. stale plans ---------------------------------------------------------------------

func TestStalePlanIsPlannedAgain(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne), planned(hashB, addOne))
	tf.applyErrs = []error{staleErr()}
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil))))

	st := succeeded(t, h)
	require.Len(t, tf.plansIn(), 2)
	require.Equal(t, []string{hashA, hashB}, tf.appliedHashes(), "the second plan, not the first, was applied")
	require.Equal(t, planned(hashB, addOne).PlanFile, tf.appliesIn()[1].PlanFile)
	require.Equal(t, "applied plan "+short(hashB)+": "+addOne.String(), step(t, st, "infra").Detail)

	stale := auditEntry(t, h, "infra.plan-stale")
	require.Equal(t, hashA, stale.Outcome)
	require.Contains(t, stale.Detail, "stale: the state changed since the plan")
	actions := h.auditActions()
	require.Less(t, indexOf(actions, "infra.planned infra "+hashA), indexOf(actions, "infra.plan-stale infra "+hashA))
	require.Less(t, indexOf(actions, "infra.plan-stale infra "+hashA), indexOf(actions, "infra.planned infra "+hashB))
	require.Len(t, st.Compensations, 1)
}

// A destructive plan made again is shown and approved again: an approval
// is for one plan, not for whatever a re-plan computes.
func TestStaleDestructivePlanIsApprovedAgain(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, replaceOne), planned(hashB, replaceOne))
	tf.applyErrs = []error{staleErr()}
	var second EnvironmentStatus
	var first, again *updateOutcome
	h.at(time.Minute, func() { first = h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
	h.at(2*time.Minute, func() {
		second = h.envStatus()
		again = h.update(UpdateApprove, DecisionInput{Actor: "carol"})
	})
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil))))

	requireDecision(t, first, DecisionResult{Gate: "infra", GateState: StateApproved, Approvals: 1, Needed: 1})
	g := step(t, second, "infra").Gate
	require.Equal(t, StateWaiting, g.State)
	require.Contains(t, g.Instructions, short(hashB))
	require.NotContains(t, g.Instructions, short(hashA))
	require.Empty(t, g.Approvals, "the first plan's approval does not carry over")
	requireDecision(t, again, DecisionResult{Gate: "infra", GateState: StateApproved, Approvals: 1, Needed: 1})
	succeeded(t, h)
	require.Equal(t, []string{hashA, hashB}, tf.appliedHashes())
}

func TestPlanStaleThreeTimesFailsTheStep(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne), planned(hashB, addOne), planned(hashC, addOne))
	tf.applyErrs = []error{staleErr(), staleErr(), staleErr()}
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{},
		provisionStep("infra", nil), check("smoke", h.srv.url("/smoke")))))

	st, appErr := h.failedEnv(ErrTypeStepFailed)
	require.Contains(t, appErr.Message(), "step infra failed: stale")
	require.Equal(t, StateFailed, step(t, st, "infra").State)
	require.Len(t, tf.plansIn(), 3)
	require.Equal(t, []string{hashA, hashB, hashC}, tf.appliedHashes())
	require.Equal(t, 2, count(h.auditActions(), "infra.plan-stale infra "+hashA)+
		count(h.auditActions(), "infra.plan-stale infra "+hashB)+count(h.auditActions(), "infra.plan-stale infra "+hashC))
	require.Empty(t, st.Compensations, "nothing was applied")
	require.Empty(t, tf.destroysIn())
	require.Empty(t, h.srv.requests())
}

// A saved plan lives on the worker that made it: Apply goes to the task
// queue Plan reported.
func TestApplyRunsOnThePlanningHost(t *testing.T) {
	h := newHarness(t)
	p := planned(hashA, addOne)
	p.TaskQueue = "runbook-host-worker-7"
	tf := newTF(h, p)
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil))))

	succeeded(t, h)
	tf.mu.Lock()
	defer tf.mu.Unlock()
	require.Equal(t, []string{"runbook-host-worker-7"}, tf.applyTQ)
}

// An apply the planning host never picks up is planned again elsewhere.
func TestApplyNeverPickedUpIsPlannedAgain(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashA, addOne), planned(hashB, addOne))
	tf.applyErrs = []error{temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, nil)}
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil))))

	succeeded(t, h)
	require.Equal(t, []string{hashA, hashB}, tf.appliedHashes())
}

// --- 5. compensation -------------------------------------------------------------------------

var previousVars = map[string]string{"image": "registry.example.com/checkout:1.0.0", "api_token": "env:TOKEN"}

func TestRollbackRestoresPreviousRelease(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	// The restore plan replaces a resource: it is applied without a gate.
	tf := newTF(h, withPrevious(planned(hashA, addOne), "1.0.0", previousVars), planned(hashC, replaceOne))
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{Vars: map[string]string{"image": "registry.example.com/checkout:${version}"}},
		provisionStep("infra", nil), check("four", h.srv.url("/fail")))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	ws := releaseWorkspace(map[string]string{"image": "registry.example.com/checkout:1.4.2"})
	restore := releaseWorkspace(previousVars)
	restore.Version = "1.0.0"
	// The third plan is the read-back: re-applying 1.0.0 changes nothing.
	require.Equal(t, []terraform.PlanInput{{Workspace: ws}, {Workspace: restore}, {Workspace: restore}}, tf.plansIn())
	require.Equal(t, []terraform.ApplyInput{
		{Workspace: ws, PlanFile: planned(hashA, addOne).PlanFile, PlanHash: hashA},
		{Workspace: restore, PlanFile: planned(hashC, replaceOne).PlanFile, PlanHash: hashC},
	}, tf.appliesIn())
	require.Empty(t, tf.destroysIn())

	infra := step(t, st, "infra")
	require.Equal(t, StateCompensated, infra.State)
	require.Nil(t, infra.Gate, "the restore is not gated")
	require.Len(t, st.Compensations, 1)
	c := st.Compensations[0]
	require.Equal(t, "infra", c.Step)
	require.Contains(t, c.Action, "restore")
	require.Contains(t, c.Action, "1.0.0")
	require.Equal(t, StateDone, c.State)
	require.Empty(t, c.Error)
	require.Equal(t, "state matches 1.0.0 (plan: no changes)", c.ReadBack)
	for _, a := range h.auditActions() {
		require.False(t, strings.HasPrefix(a, "gate."), "no gate expected: %v", h.auditActions())
	}
	require.Contains(t, h.auditActions(), "compensation.ran infra done")
	h.verifyAudit()
}

// A restore plan without changes has nothing to apply.
func TestRollbackRestoreWithoutChangesAppliesNothing(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	tf := newTF(h, withPrevious(planned(hashA, addOne), "1.0.0", previousVars), terraform.PlanResult{PlanHash: hashC})
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil), check("four", h.srv.url("/fail")))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	require.Len(t, tf.plansIn(), 2, "the restore plan is its own read-back")
	require.Equal(t, []string{hashA}, tf.appliedHashes())
	require.Equal(t, StateNothingToUndo, st.Compensations[0].State)
	require.Equal(t, "state matches 1.0.0 (plan: no changes)", st.Compensations[0].ReadBack)
}

func TestRollbackDestroys(t *testing.T) {
	for _, tc := range []struct {
		name       string
		onRollback string
		plan       terraform.PlanResult
	}{
		{"on-rollback destroy", "destroy", withPrevious(planned(hashA, addOne), "1.0.0", previousVars)},
		{"first release, restore", "restore", planned(hashA, addOne)},
		{"first release, default", "", planned(hashA, addOne)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tf := newTF(h, tc.plan)
			var during EnvironmentStatus
			h.at(time.Minute, func() {
				during = h.envStatus()
				h.update(UpdateReject, DecisionInput{Actor: "carol"})
			})
			h.runEnvironment(envInput(infraEnv(runbooks.Infra{OnRollback: tc.onRollback},
				provisionStep("infra", map[string]string{"size": "large"}), gateStep("verify", 1, "carol"))))

			action := "destroy the production infrastructure this release created"
			require.Equal(t, []CompensationStatus{{Step: "infra", Action: action, State: StatePending}}, during.Compensations)
			st, _ := h.failedEnv(ErrTypeRejected)
			require.Equal(t, StateRolledBack, st.State)
			require.Equal(t, []terraform.DestroyInput{{Workspace: releaseWorkspace(map[string]string{"size": "large"})}},
				tf.destroysIn())
			require.Len(t, tf.plansIn(), 1, "a destroy needs no restore plan")
			require.Len(t, tf.appliesIn(), 1)
			require.Equal(t, []CompensationStatus{{Step: "infra", Action: action, State: StateDone,
				ReadBack: "state holds no resources"}}, st.Compensations)
			require.Equal(t, StateCompensated, step(t, st, "infra").State)
		})
	}
}

func TestPlanWithoutChangesRegistersNoCompensation(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	noChanges := withPrevious(terraform.PlanResult{PlanFile: "/tmp/p.tfplan", PlanHash: hashA}, "1.0.0", previousVars)
	tf := newTF(h, noChanges)
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil), check("four", h.srv.url("/fail")))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, []string{hashA}, tf.appliedHashes(), "a plan without changes is still applied (it records the release)")
	require.Len(t, tf.plansIn(), 1, "no restore plan")
	require.Empty(t, tf.destroysIn())
	require.Empty(t, st.Compensations)
	require.Equal(t, StateSucceeded, step(t, st, "infra").State)
}

// An apply that fails half-way leaves some of the release's changes in
// place; the rollback must still restore the previous release.
func TestFailedApplyIsStillCompensated(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, withPrevious(planned(hashA, addOne), "1.0.0", previousVars), planned(hashC, addOne))
	tf.applyErrs = []error{temporal.NewNonRetryableApplicationError(
		"apply checkout/production: 1 of 2 resources changed, then: quota exceeded", terraform.ErrFailed, nil)}
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil))))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	plans := tf.plansIn()
	require.Len(t, plans, 3, "no restore plan and read-back after a failed apply; compensations: %+v", st.Compensations)
	require.Equal(t, previousVars, plans[1].Vars)
	require.Equal(t, plans[1], plans[2], "the read-back plans the restored variables again")
	require.Equal(t, "1.0.0", plans[1].Version)
	require.Equal(t, []string{hashA, hashC}, tf.appliedHashes())
	require.Len(t, st.Compensations, 1)
	require.Equal(t, StateDone, st.Compensations[0].State)
}

// infra.approvers restricts who may approve a destructive plan.
func TestDestructivePlanApproversFromInfra(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h, planned(hashB, replaceOne))
	var outsider, approver *updateOutcome
	h.at(time.Minute, func() {
		outsider = h.update(UpdateApprove, DecisionInput{Actor: "carol"})
		approver = h.update(UpdateApprove, DecisionInput{Actor: "alice"})
	})
	h.runEnvironment(envInput(infraEnv(runbooks.Infra{Approvers: []string{"alice"}}, provisionStep("infra", nil))))

	requireRejected(t, outsider, "carol may not decide gate infra; approvers: alice")
	requireDecision(t, approver, DecisionResult{Gate: "infra", GateState: StateApproved, Approvals: 1, Needed: 1})
	st := succeeded(t, h)
	require.Equal(t, []string{"alice"}, step(t, st, "infra").Gate.Approvers)
	require.Equal(t, []string{hashB}, tf.appliedHashes())
}
