package workflows

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/freezes"
)

// Cancelling the Freezes workflow ends the run as cancelled, at once,
// after the Update it was handling finished (its audit record written).
// Before, the main loop ignored the cancelled Await and spun until the
// deadlock detector failed the workflow task.
func TestFreezesCancelEndsRunCleanly(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	var created *updateOutcome
	h.at(time.Minute, func() {
		created = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "holiday peak"})
	})
	h.at(2*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, FreezesInput{})

	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	var cancelled *temporal.CanceledError
	require.True(t, errors.As(err, &cancelled), "want a cancelled run, got %v", err)
	require.NoError(t, created.err)
	id := created.result.(freezes.Freeze).ID
	require.Equal(t, []string{"freeze.created " + id + " frozen"}, h.auditActions())
}

// A run that starts from a state without its numbering (what a starter
// that read only the list would carry, or a run restarted empty next to an
// audit log that remembers the old freezes) never hands out an ID in use:
// IDs come from the Update, not from a counter of the run. The new
// freeze's audit record is written, not taken for an old one's.
func TestFreezeIDsIndependentOfTheRun(t *testing.T) {
	h := newHarness(t)
	start := utc("2026-11-25T10:00:00Z")
	h.env.SetStartTime(start)
	old := activeFreeze("freeze-1", start.Add(-time.Hour), time.Time{}, "production")
	lifted := activeFreeze("freeze-2", start.Add(-2*time.Hour), time.Time{})
	lifted.LiftedAt, lifted.LiftedBy, lifted.LiftReason = start.Add(-time.Hour), "cab", "done"
	outcomes := make([]*updateOutcome, 3)
	h.at(time.Minute, func() {
		for i := range outcomes {
			outcomes[i] = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "peak"})
		}
	})
	var listed []freezes.Freeze
	h.at(2*time.Minute, func() {
		v, err := h.env.QueryWorkflow(freezes.QueryList)
		require.NoError(t, err)
		require.NoError(t, v.Get(&listed))
		h.env.CancelWorkflow()
	})
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, FreezesInput{Freezes: []freezes.Freeze{old, lifted}})

	ids := map[string]bool{old.ID: true, lifted.ID: true}
	idRE := regexp.MustCompile(`^freeze-20261125-[0-9a-f]{6,}$`)
	var audited []string
	for _, o := range outcomes {
		require.NoError(t, o.err)
		id := o.result.(freezes.Freeze).ID
		require.Regexp(t, idRE, id)
		require.False(t, ids[id], "freeze ID %s handed out twice", id)
		ids[id] = true
		audited = append(audited, "freeze.created "+id+" frozen")
	}
	require.Len(t, listed, 5, "the carried freezes stay")
	// The three Updates arrive together; the test environment may run
	// their handlers in any order, so each record counts, not the order.
	require.ElementsMatch(t, audited, h.auditActions())
}

// A run started from a closed run's state keeps its freezes and watchers
// and records the restart in the audit log; one started empty by an
// operator says what was lost and why.
func TestFreezesRestoredRunIsAudited(t *testing.T) {
	start := utc("2026-11-25T10:00:00Z")
	closedAt := start.Add(-time.Minute)
	held := workflow.Execution{ID: "deploy/checkout/production", RunID: "run-1"}
	for _, tc := range []struct {
		name     string
		in       FreezesInput
		want     string
		wantText string
	}{
		{"restored", FreezesInput{
			Freezes:  []freezes.Freeze{activeFreeze("freeze-20261124-abcdef", start.Add(-time.Hour), time.Time{}, "production")},
			Watchers: []workflow.Execution{held},
			Restored: &freezes.Restored{RunID: "run-a", Status: "terminated", ClosedAt: closedAt, Actor: "cab"},
		}, "freezes.restored", "started with the 1 freezes (1 active) of run run-a, terminated at 2026-11-25T09:59:00Z"},
		{"empty", FreezesInput{
			Restored: &freezes.Restored{RunID: "run-b", Status: "terminated", ClosedAt: closedAt, Actor: "sre", Empty: true,
				Reason: "history lost"},
		}, "freezes.reset", "could not be read back; history lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.env.SetStartTime(start)
			if len(tc.in.Watchers) > 0 {
				h.env.OnSignalExternalWorkflow(mock.Anything, held.ID, held.RunID, freezes.SignalChanged, mock.Anything).Return(nil).Once()
			}
			var state FreezesInput
			h.at(time.Minute, func() {
				h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "peak"})
			})
			h.at(2*time.Minute, func() {
				v, err := h.env.QueryWorkflow(freezes.QueryState)
				require.NoError(t, err)
				require.NoError(t, v.Get(&state))
				h.env.CancelWorkflow()
			})
			h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
			h.env.ExecuteWorkflow(Freezes, tc.in)

			entries := h.auditEntries()
			require.Len(t, entries, 2)
			require.Equal(t, tc.want, entries[0].Action)
			require.Equal(t, tc.in.Restored.Actor, entries[0].Actor)
			require.Contains(t, entries[0].Detail, tc.wantText)
			require.Equal(t, freezes.WorkflowID+"/"+tc.in.Restored.RunID+"/"+tc.want, entries[0].ID)
			require.Equal(t, "freeze.created", entries[1].Action)
			require.Len(t, state.Freezes, len(tc.in.Freezes)+1)
			require.Nil(t, state.Restored, "the restart is recorded once, not carried on")
			h.env.AssertExpectations(t)
		})
	}
}

// Runs that started before freezeIDChange keep numbering freezes on
// replay, from the number they carried.
func TestFreezeIDsBeforeTheChangeKeepNumbering(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(utc("2026-11-25T10:00:00Z"))
	h.env.OnGetVersion(freezeIDChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	var created *updateOutcome
	h.at(time.Minute, func() {
		created = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "peak"})
	})
	h.at(2*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, FreezesInput{Next: 6})
	require.NoError(t, created.err)
	require.Equal(t, "freeze-7", created.result.(freezes.Freeze).ID)
}

// An ID already taken is lengthened until it is free.
func TestFreezeIDLengthensOnCollision(t *testing.T) {
	now := utc("2026-11-25T10:00:00Z")
	first := freezeID(now, "update-1", func(string) bool { return false })
	require.Regexp(t, `^freeze-20261125-[0-9a-f]{6}$`, first)
	second := freezeID(now, "update-1", func(id string) bool { return id == first })
	require.Len(t, second, len(first)+2)
	require.Equal(t, first, second[:len(first)], "the longer ID extends the shorter")
	require.NotEqual(t, first, freezeID(now, "update-2", func(string) bool { return false }))
}
