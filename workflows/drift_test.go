package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/terraform"
)

const driftRequester = "schedule drift/checkout/production"

func driftInput() DriftInput {
	return DriftInput{Service: testService, Environment: "production", Requester: driftRequester,
		Workspace: terraform.Workspace{Service: testService, Environment: "production", Module: testModule,
			Vars: map[string]string{"size": "large"}}}
}

// runDrift runs one drift check with tf's script and returns the status
// search attribute values it set.
func runDrift(t *testing.T, h *harness, tf *fakeTF) []string {
	t.Helper()
	statusAttr := recordStatusAttr(h)
	h.env.SetStartWorkflowOptions(clientStartOptions(DriftID(testService, "production") + "/check-1"))
	h.env.ExecuteWorkflow(Drift, driftInput())
	require.True(t, h.env.IsWorkflowCompleted(), "drift check did not complete")
	require.Equal(t, []terraform.DriftInput{{Workspace: driftInput().Workspace}}, tf.driftsIn())
	return statusAttr()
}

func TestDriftDetected(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h)
	changed := terraform.PlanSummary{Change: 1, Destroy: 1, Resources: []terraform.ResourceChange{
		{Address: "terraform_data.app", Action: "update"}, {Address: "terraform_data.extra", Action: "delete"}}}
	tf.drift = terraform.DriftResult{Drifted: true, Summary: changed, Checked: time.Now()}
	attrs := runDrift(t, h, tf)

	require.NoError(t, h.env.GetWorkflowError())
	var res DriftResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateDrifted, res.State)
	require.Equal(t, changed.String(), res.Summary)
	require.Contains(t, res.Summary, "terraform_data.extra (delete)")
	require.WithinDuration(t, h.env.Now(), res.Checked, time.Minute)
	require.Equal(t, []string{StateDrifted}, attrs)

	entries := h.auditEntries()
	require.Len(t, entries, 1)
	e := entries[0]
	require.Equal(t, "drift.drifted", e.Action)
	require.Equal(t, StateDrifted, e.Outcome)
	require.Equal(t, changed.String(), e.Detail)
	require.Equal(t, driftRequester, e.Actor)
	require.Equal(t, "schedule", e.Channel, "a scheduled check is audited with the schedule channel")
	require.Equal(t, testService, e.Service)
	require.Equal(t, "production", e.Environment)
	require.Equal(t, DriftID(testService, "production")+"/check-1", e.Release)
	require.Equal(t, res.Checked, e.Time.UTC())
	h.verifyAudit()
}

func TestDriftInSync(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h)
	tf.drift = terraform.DriftResult{Checked: time.Now()}
	attrs := runDrift(t, h, tf)

	require.NoError(t, h.env.GetWorkflowError())
	var res DriftResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateInSync, res.State)
	require.Equal(t, "no changes outside releases", res.Summary)
	require.False(t, res.Checked.IsZero())
	require.Equal(t, []string{StateInSync}, attrs)
	require.Equal(t, []string{"drift.in-sync in-sync"}, h.auditActions())
	require.Equal(t, "no changes outside releases", h.auditEntries()[0].Detail)
}

// A drift check that cannot run (no binary, invalid module) fails the
// workflow; it must not stay "running" in the RunbookStatus search
// attribute it was started with, and the audit log records the failed check.
func TestFailedDriftCheckIsNotLeftRunning(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h)
	tf.driftErr = temporal.NewNonRetryableApplicationError("no tofu or terraform binary on this worker",
		terraform.ErrNotFound, nil)
	attrs := runDrift(t, h, tf)

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	require.Contains(t, err.Error(), "no tofu or terraform binary")
	require.Equal(t, []string{StateFailed}, attrs, "RunbookStatus stays %q from DriftAttrs", StateRunning)
	require.Equal(t, []string{"drift.failed failed"}, h.auditActions())
}

// An environment with traffic slots is checked slot by slot: it has drifted
// when one slot has, and the summary names each slot.
func TestDriftOfSlots(t *testing.T) {
	h := newHarness(t)
	tf := newTF(h)
	changed := terraform.PlanSummary{Change: 1, Resources: []terraform.ResourceChange{{Address: "terraform_data.app", Action: "update"}}}
	tf.driftBySlot = map[string]terraform.DriftResult{
		"blue":  {Checked: time.Now()},
		"green": {Drifted: true, Summary: changed, Checked: time.Now()},
	}
	in := driftInput()
	in.Slots = []terraform.Workspace{in.Workspace, in.Workspace}
	in.Slots[0].Slot, in.Slots[1].Slot = "blue", "green"
	h.env.SetStartWorkflowOptions(clientStartOptions(DriftID(testService, "production") + "/check-1"))
	h.env.ExecuteWorkflow(Drift, in)

	var res DriftResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateDrifted, res.State)
	require.Equal(t, "blue: no changes outside releases; green: "+changed.String(), res.Summary)
	require.Len(t, tf.driftsIn(), 2)
	require.Equal(t, "green", tf.driftsIn()[1].Workspace.Slot)
}
