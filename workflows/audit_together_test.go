package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/httpcheck"
)

// appendsSeen wraps the real audit activity and keeps the actions of each
// call, one string per local activity.
type appendsSeen struct {
	acts  *audit.Activities
	mu    sync.Mutex
	calls []string
}

func (a *appendsSeen) AppendAudit(ctx context.Context, in audit.AppendAuditInput) (audit.AppendAuditResult, error) {
	a.mu.Lock()
	a.calls = append(a.calls, auditActions(in))
	a.mu.Unlock()
	return a.acts.AppendAudit(ctx, in)
}

func (a *appendsSeen) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// TestAdjacentRecordsGoTogether: from lean-release 5 an environment writes
// a step's success with the gate opening after it, and with its own end,
// in one local activity each. A held record is on disk before the next step
// acts: each http-check finds the success of the step before it in the log.
// Runs of version 4 still write one record per local activity.
func TestAdjacentRecordsGoTogether(t *testing.T) {
	for _, tc := range []struct {
		lean int
		want []string
	}{
		{lean: LeanMax, want: []string{
			"environment.started", // the artifact check acts next
			"step.succeeded",      // and so does each check
			"step.succeeded",
			"step.succeeded + gate.waiting",
			"gate.approved",
			"step.succeeded",
			"step.succeeded + environment.finished",
		}},
		{lean: 4, want: []string{
			"environment.started", "step.succeeded", "step.succeeded", "step.succeeded", "gate.waiting",
			"gate.approved", "step.succeeded", "step.succeeded", "environment.finished",
		}},
	} {
		t.Run(fmt.Sprintf("lean-%d", tc.lean), func(t *testing.T) {
			h := newHarness(t)
			seen := &appendsSeen{acts: &audit.Activities{Log: h.auditLog}}
			h.env.RegisterActivityWithOptions(seen.AppendAudit, activity.RegisterOptions{
				Name: "AppendAudit", DisableAlreadyRegisteredCheck: true})
			var missing []string
			h.intercept = func(_ context.Context, in httpcheck.HTTPCheckInput) (httpcheck.HTTPCheckResult, error, bool) {
				// The step before this one is on record before it acts.
				before := map[string]string{"/smoke": "step.succeeded " + BuiltinArtifact, "/deploy": "step.succeeded smoke",
					"/verify": "step.succeeded sign-off"}
				for suffix, rec := range before {
					if strings.HasSuffix(in.URL, suffix) && indexOfPrefix(h.auditActions(), rec) < 0 {
						missing = append(missing, rec+" (before "+suffix+")")
					}
				}
				return httpcheck.HTTPCheckResult{}, nil, false
			}
			h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
			in := envInput(envSpec("production",
				check("smoke", h.srv.url("/smoke")),
				check("deploy", h.srv.url("/deploy")),
				gateStep("sign-off", 1, "carol"),
				check("verify", h.srv.url("/verify"))))
			in.Lean = tc.lean
			h.runEnvironment(in)
			require.NoError(t, h.env.GetWorkflowError())

			require.Empty(t, missing, "records not on disk before the next step acted")
			require.Equal(t, tc.want, seen.seen(), "audit local activities")
			actions := h.auditActions()
			require.Equal(t, []string{
				"environment.started running",
				"step.succeeded " + BuiltinArtifact + " succeeded",
				"step.succeeded smoke succeeded",
				"step.succeeded deploy succeeded",
				"gate.waiting sign-off waiting",
				"gate.approved sign-off approved",
				"step.succeeded sign-off approved",
				"step.succeeded verify succeeded",
				"environment.finished succeeded",
			}, actions)
			h.verifyAudit()
		})
	}
}

// indexOfPrefix is the index of the first of list starting with prefix, or -1.
func indexOfPrefix(list []string, prefix string) int {
	for i, s := range list {
		if strings.HasPrefix(s, prefix) {
			return i
		}
	}
	return -1
}
