package workflows

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/freezes"
)

// The Freezes workflow creates and lifts freezes through validated Updates,
// records both in the audit log, and signals the environments it holds.
func TestFreezesWorkflowCreateLiftAndWatchers(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	held := workflow.Execution{ID: "deploy/checkout/production", RunID: "run-1"}
	h.env.OnSignalExternalWorkflow(mock.Anything, held.ID, held.RunID, freezes.SignalChanged, mock.Anything).Return(nil).Once()

	outcomes := map[string]*updateOutcome{}
	var listed []freezes.Freeze
	h.at(time.Minute, func() {
		outcomes["no reason"] = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Environments: []string{"production"}})
		outcomes["past end"] = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "x", To: start.Add(-time.Hour)})
		outcomes["bad name"] = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "x", Services: []string{"Check Out"}})
		outcomes["create"] = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "holiday peak",
			Environments: []string{"production"}, To: start.Add(72 * time.Hour)})
	})
	h.at(2*time.Minute, func() { h.env.SignalWorkflow(freezes.SignalWatch, held) })
	createdID := func() string { return outcomes["create"].result.(freezes.Freeze).ID }
	h.at(3*time.Minute, func() {
		outcomes["lift unknown"] = h.update(freezes.UpdateLift, freezes.LiftInput{ID: "freeze-9", Actor: "cab", Reason: "done"})
		outcomes["lift"] = h.update(freezes.UpdateLift, freezes.LiftInput{ID: createdID(), Actor: "cab", Reason: "peak over"})
	})
	h.at(4*time.Minute, func() {
		outcomes["lift again"] = h.update(freezes.UpdateLift, freezes.LiftInput{ID: createdID(), Actor: "cab", Reason: "again"})
		v, err := h.env.QueryWorkflow(freezes.QueryList)
		require.NoError(t, err)
		require.NoError(t, v.Get(&listed))
		h.env.CancelWorkflow()
	})
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, FreezesInput{})

	requireRejected(t, outcomes["no reason"], "a freeze needs a reason")
	requireRejected(t, outcomes["past end"], "which has passed")
	requireRejected(t, outcomes["bad name"], "is not a service or environment name")
	requireRejected(t, outcomes["lift unknown"], `no freeze "freeze-9"`)
	requireRejected(t, outcomes["lift again"], "already ended")
	require.NoError(t, outcomes["create"].err)
	created := outcomes["create"].result.(freezes.Freeze)
	require.Regexp(t, `^freeze-20261125-[0-9a-f]{6}$`, created.ID)
	require.Equal(t, start.Add(time.Minute), created.From)
	require.NoError(t, outcomes["lift"].err)

	require.Len(t, listed, 1)
	require.Equal(t, "cab", listed[0].LiftedBy)
	require.Equal(t, "peak over", listed[0].LiftReason)
	require.Equal(t, []string{"freeze.created " + created.ID + " frozen", "freeze.lifted " + created.ID + " lifted"}, h.auditActions())
	h.env.AssertExpectations(t)
}

// A continue-as-new keeps active freezes, the watchers and the numbering,
// and only the most recent ended freezes.
func TestFreezesSnapshotBoundsState(t *testing.T) {
	now := utc("2026-11-25T10:00:00Z")
	b := &board{}
	for i := range keepEndedFreezes + 20 {
		b.Freezes = append(b.Freezes, freezes.Freeze{ID: fmt.Sprintf("freeze-%d", i+1), From: now.Add(-48 * time.Hour),
			To: now.Add(-time.Hour)})
	}
	b.Freezes = append(b.Freezes, freezes.Freeze{ID: "freeze-active", From: now.Add(-time.Hour)})
	b.Watchers = []workflow.Execution{{ID: "deploy/a/b", RunID: "r"}}
	b.Next = keepEndedFreezes + 21
	s := b.snapshot(now)
	require.Len(t, s.Freezes, keepEndedFreezes+1)
	require.Equal(t, "freeze-21", s.Freezes[0].ID, "the oldest ended freezes go first")
	require.Equal(t, "freeze-active", s.Freezes[len(s.Freezes)-1].ID)
	require.Equal(t, b.Watchers, s.Watchers)
	require.Equal(t, b.Next, s.Next)
}

// A long history continues as new, carrying every freeze.
func TestFreezesContinueAsNew(t *testing.T) {
	old := freezeRequestLimit
	freezeRequestLimit = 4
	t.Cleanup(func() { freezeRequestLimit = old })
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	for i := range 6 {
		h.at(time.Duration(i+2)*time.Minute, func() {
			h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: fmt.Sprintf("freeze %d", i+1)})
		})
	}
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, FreezesInput{})

	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var next FreezesInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotEmpty(t, next.Freezes)
	require.Len(t, next.Freezes, 4, "the run continues as new after its fourth request")
	for i, f := range next.Freezes {
		require.Equal(t, fmt.Sprintf("freeze %d", i+1), f.Reason, "every freeze so far is kept, in order")
	}
	require.Nil(t, next.Restored)
}

// Two creates with the same Once while the first freeze holds declare one
// freeze: the second gets it back marked Repeat, with no second audit
// entry; after a lift the same Once declares a new one.
func TestFreezeCreateOnce(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	in := freezes.CreateInput{Actor: "runbook:breaker", Reason: "automatic: circuit breaker", Services: []string{"checkout"}, Once: "breaker/service/checkout"}
	outcomes := map[string]*updateOutcome{}
	h.at(time.Minute, func() {
		outcomes["first"] = h.update(freezes.UpdateCreate, in)
		outcomes["second"] = h.update(freezes.UpdateCreate, in)
		other := in
		other.Once, other.Services = "breaker/service/cart", []string{"cart"}
		outcomes["other scope"] = h.update(freezes.UpdateCreate, other)
		plain := in
		plain.Once = ""
		outcomes["without once"] = h.update(freezes.UpdateCreate, plain)
	})
	firstID := func() string { return outcomes["first"].result.(freezes.Freeze).ID }
	h.at(2*time.Minute, func() {
		outcomes["lift"] = h.update(freezes.UpdateLift, freezes.LiftInput{ID: firstID(), Actor: "sre", Reason: "fixed"})
	})
	h.at(3*time.Minute, func() {
		outcomes["after lift"] = h.update(freezes.UpdateCreate, in)
		h.env.CancelWorkflow()
	})
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, FreezesInput{})

	for name, o := range outcomes {
		require.NoError(t, o.err, name)
	}
	first, second := outcomes["first"].result.(freezes.Freeze), outcomes["second"].result.(freezes.Freeze)
	require.False(t, first.Repeat)
	require.True(t, second.Repeat, "the second create returns the first freeze")
	require.Equal(t, first.ID, second.ID)
	for _, name := range []string{"other scope", "without once", "after lift"} {
		f := outcomes[name].result.(freezes.Freeze)
		require.False(t, f.Repeat, name)
		require.NotEqual(t, first.ID, f.ID, name)
	}
	created := 0
	for _, a := range h.auditActions() {
		if strings.HasPrefix(a, "freeze.created ") {
			created++
		}
	}
	require.Equal(t, 4, created, "first, other scope, without once, after lift: %v", h.auditActions())
}
