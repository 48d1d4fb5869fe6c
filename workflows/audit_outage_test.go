package workflows

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/runbookhq/runbook/activities/audit"
)

// downAudit is an audit store that refuses every write until heal returns
// true, then writes to the real log. It counts refusals.
type downAudit struct {
	acts    *audit.Activities
	heal    func() bool
	mu      sync.Mutex
	refused int
}

func (d *downAudit) AppendAudit(ctx context.Context, in audit.AppendAuditInput) (audit.AppendAuditResult, error) {
	if !d.heal() {
		d.mu.Lock()
		d.refused++
		d.mu.Unlock()
		return audit.AppendAuditResult{}, errors.New("audit store unreachable")
	}
	return d.acts.AppendAudit(ctx, in)
}

// An audit store outage does not stall the rollback: the compensations run
// while the store refuses every write, the records are retried in the
// background, and each lands exactly once when the store is back, before
// the environment closes.
func TestAuditOutageDoesNotStallTheRollback(t *testing.T) {
	h := newHarness(t)
	h.failPath("/fail", "boom")
	// The store is down until every undo hook has been called: a rollback
	// that waited for the store would never get there.
	undone := func() bool {
		reqs := h.srv.requests()
		return slices.Contains(reqs, "POST /undo/1")
	}
	d := &downAudit{acts: &audit.Activities{Log: h.auditLog}, heal: undone}
	h.env.RegisterActivityWithOptions(d.AppendAudit, activity.RegisterOptions{Name: "AppendAudit", DisableAlreadyRegisteredCheck: true})
	h.runEnvironment(envInput(envSpec("production", threeUndoableSteps(h)...)))

	st, _ := h.failedEnv(ErrTypeStepFailed)
	require.Equal(t, StateRolledBack, st.State)
	require.Equal(t, 0, st.AuditPending, "the environment closed with records still unwritten")
	require.Positive(t, d.refused, "the store never refused a write: the test proves nothing")
	require.Equal(t, []string{"POST /undo/3", "POST /undo/2", "POST /undo/1"}, h.srv.requests()[3:])

	entries := h.auditEntries()
	ids := map[string]int{}
	for _, e := range entries {
		ids[e.ID]++
	}
	for id, n := range ids {
		require.Equal(t, 1, n, "audit record %s written %d times", id, n)
	}
	// Every record the environment numbered is there: no gap.
	for seq := 1; seq <= len(entries); seq++ {
		found := false
		for id := range ids {
			if strings.HasSuffix(id, "/"+strconv.Itoa(seq)) {
				found = true
			}
		}
		require.True(t, found, "audit record %d is missing: %v", seq, h.auditActions())
	}
	actions := h.auditActions()
	require.Contains(t, actions, "rollback.started rolling-back")
	require.Contains(t, actions, "environment.finished rolled-back")
	h.verifyAudit()
}
