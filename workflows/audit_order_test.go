package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/runbookhq/runbook/activities/audit"
)

// slowAudit writes to the same real audit log, but slowly for some actions,
// like a busy disk. The order of the log must not depend on it.
type slowAudit struct {
	acts  *audit.Activities
	delay map[string]time.Duration
}

func (s *slowAudit) AppendAudit(ctx context.Context, in audit.AppendAuditInput) (audit.AppendAuditResult, error) {
	if d := s.delay[in.Entry.Action]; d > 0 {
		time.Sleep(d) // simulated disk latency, not a wait for state
	}
	return s.acts.AppendAudit(ctx, in)
}

func (h *harness) slowAudit(delay map[string]time.Duration) {
	s := &slowAudit{acts: &audit.Activities{Log: h.auditLog}, delay: delay}
	h.env.RegisterActivityWithOptions(s.AppendAudit, activity.RegisterOptions{
		Name: "AppendAudit", DisableAlreadyRegisteredCheck: true})
}

// A decision is recorded in the audit log before the records of what it
// caused: an auditor reads the log top to bottom.
func TestAuditRecordsDecisionBeforeItsEffect(t *testing.T) {
	tests := []struct {
		name          string
		slow          string
		updates       func(h *harness)
		cause, effect string
	}{
		{
			name: "approve", slow: "gate.approved",
			updates: func(h *harness) {
				h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
			},
			cause: "gate.approved sign-off approved", effect: "step.succeeded sign-off approved",
		},
		{
			name: "reject", slow: "gate.rejected",
			updates: func(h *harness) {
				h.at(time.Minute, func() { h.update(UpdateReject, DecisionInput{Actor: "carol"}) })
			},
			cause: "gate.rejected sign-off rejected", effect: "step.failed sign-off rejected",
		},
		{
			name: "abort", slow: "release.aborted",
			updates: func(h *harness) {
				h.at(time.Minute, func() { h.update(UpdateAbort, ControlInput{Actor: "erin"}) })
			},
			cause: "release.aborted aborted", effect: "step.failed sign-off interrupted",
		},
		{
			name: "resume", slow: "release.resumed",
			updates: func(h *harness) {
				h.at(time.Minute, func() { h.update(UpdatePause, ControlInput{Actor: "erin"}) })
				h.at(2*time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
				h.at(3*time.Minute, func() { h.update(UpdateResume, ControlInput{Actor: "erin"}) })
			},
			cause: "release.resumed running", effect: "step.succeeded deploy succeeded",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.slowAudit(map[string]time.Duration{tc.slow: 100 * time.Millisecond})
			tc.updates(h)
			h.runEnvironment(envInput(envSpec("production",
				gateStep("sign-off", 1, "carol"),
				check("deploy", h.srv.url("/deploy")))))

			actions := h.auditActions()
			iCause, iEffect := indexOf(actions, tc.cause), indexOf(actions, tc.effect)
			require.GreaterOrEqual(t, iCause, 0, "actions: %v", actions)
			require.GreaterOrEqual(t, iEffect, 0, "actions: %v", actions)
			require.Less(t, iCause, iEffect, "%q is logged after its effect %q: %v", tc.cause, tc.effect, actions)
			h.verifyAudit()
		})
	}
}
