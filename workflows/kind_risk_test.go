package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/activities/history"
	"github.com/runbookhq/runbook/runbooks"
)

func TestScoreRisk(t *testing.T) {
	prod := riskFact{level: runbooks.RiskMedium, reason: "production environment"}
	contract := riskFact{level: runbooks.RiskHigh, reason: "contract migration 3_drop.up.sql"}
	bump := riskFact{bump: true, reason: "the previous release failed"}
	for _, tc := range []struct {
		name  string
		facts []riskFact
		want  string
	}{
		{"nothing", nil, runbooks.RiskLow},
		{"production", []riskFact{prod}, runbooks.RiskMedium},
		{"production and contract", []riskFact{prod, contract}, runbooks.RiskHigh},
		{"a bump from low", []riskFact{bump}, runbooks.RiskMedium},
		{"production bumped", []riskFact{prod, bump}, runbooks.RiskHigh},
		{"high stays high", []riskFact{contract, bump, bump}, runbooks.RiskHigh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := scoreRisk(tc.facts)
			require.Equal(t, tc.want, r.Level)
			require.Len(t, r.Reasons, len(tc.facts))
		})
	}
}

func riskPolicy() *runbooks.RiskPolicy {
	return &runbooks.RiskPolicy{
		Medium: []runbooks.Approval{{Name: "release-manager", Approvers: []string{"group:release-managers"}}},
		High: []runbooks.Approval{
			{Name: "cab", Approvers: []string{"group:cab"}, MinApprovals: 2},
			{Name: "business-owner", Approvers: []string{"olivia"}},
		},
	}
}

// A production release after a rolled-back one is high risk: the policy's
// high gates (two of the CAB, one business owner) are added and must pass
// before the steps; status, audit and flags name the level and why.
func TestRiskPolicyAddsTheLevelsGates(t *testing.T) {
	h := newHarness(t)
	h.previous = history.PreviousReleaseResult{Found: true, Version: "1.4.1", State: StateRolledBack, EndedAt: utc("2026-11-24T10:00:00Z")}
	var assessed EnvironmentStatus
	var outcomes []*updateOutcome
	h.at(time.Minute, func() {
		assessed = h.envStatus()
		for _, d := range []DecisionInput{
			{Actor: "carol", Groups: []string{"cab"}, Gate: "cab"},
			{Actor: "bob", Gate: "cab"}, // not in the CAB
			{Actor: "carl", Groups: []string{"cab"}, Gate: "cab"},
		} {
			outcomes = append(outcomes, h.update(UpdateApprove, d))
		}
	})
	h.at(2*time.Minute, func() { outcomes = append(outcomes, h.update(UpdateApprove, DecisionInput{Actor: "olivia"})) })
	in := envInput(envSpec("production", check("deploy", h.srv.url("/deploy"))))
	in.Policy.Risk = riskPolicy()
	h.runEnvironment(in)

	require.Equal(t, []string{BuiltinArtifact + "=succeeded", BuiltinRisk + "=succeeded", "cab=waiting", "business-owner=pending", "deploy=pending"},
		stepStates(assessed))
	r := assessed.Risk
	require.NotNil(t, r)
	require.Equal(t, runbooks.RiskHigh, r.Level)
	require.Equal(t, []string{"production environment", "the previous release (1.4.1) into production ended rolled-back"}, r.Reasons)
	require.Equal(t, []string{"cab", "business-owner"}, r.Gates)
	require.Equal(t, 2, step(t, assessed, "cab").Gate.MinApprovals)
	require.NoError(t, outcomes[0].err)
	requireRejected(t, outcomes[1], "may not decide gate cab")
	require.NoError(t, outcomes[2].err)
	require.NoError(t, outcomes[3].err)

	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, StateSucceeded, step(t, res.Status, "deploy").State)
	require.Contains(t, h.auditActions(), "risk.assessed assess-risk high")
}

// Without facts a release is low risk and gets the low gates: none here.
func TestLowRiskAddsNoGates(t *testing.T) {
	h := newHarness(t)
	in := envInput(envSpec("staging", check("deploy", h.srv.url("/deploy"))))
	in.Policy.Risk = riskPolicy()
	h.runEnvironment(in)
	var res EnvironmentResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	require.Equal(t, runbooks.RiskLow, res.Status.Risk.Level)
	require.Empty(t, res.Status.Risk.Gates)
	require.Equal(t, []string{BuiltinArtifact + "=succeeded", BuiltinRisk + "=succeeded", "deploy=succeeded"}, stepStates(res.Status))
}

// A large change (deploy --commit-range) raises the level by one.
func TestLargeChangeRaisesRisk(t *testing.T) {
	h := newHarness(t)
	var assessed EnvironmentStatus
	h.at(time.Minute, func() {
		assessed = h.envStatus()
		h.update(UpdateApprove, DecisionInput{Actor: "rita", Groups: []string{"release-managers"}})
	})
	in := envInput(envSpec("staging", check("deploy", h.srv.url("/deploy"))))
	in.Policy.Risk = riskPolicy()
	in.Build = &BuildInfo{Commit: "abc", CommitRange: "v1.4.1..abc", Commits: 23, ChangedLines: 812}
	h.runEnvironment(in)
	require.Equal(t, runbooks.RiskMedium, assessed.Risk.Level)
	require.Equal(t, []string{"large change: 812 changed lines in 23 commits (v1.4.1..abc), 500 or more is large"}, assessed.Risk.Reasons)
	require.NoError(t, h.env.GetWorkflowError())
}

// A staging release after one whose rollback was incomplete is high risk on
// that fact alone: what it left may still be in place.
func TestRiskAfterAnIncompleteRollbackIsHigh(t *testing.T) {
	h := newHarness(t)
	h.previous = history.PreviousReleaseResult{Found: true, Version: "1.4.1", State: StateRollbackIncomplete, EndedAt: utc("2026-11-24T10:00:00Z")}
	var assessed EnvironmentStatus
	h.at(time.Minute, func() {
		assessed = h.envStatus()
		h.update(UpdateAbort, ControlInput{Actor: "erin"})
	})
	in := envInput(envSpec("staging", check("deploy", h.srv.url("/deploy"))))
	in.Policy.Risk = riskPolicy()
	h.runEnvironment(in)

	require.NotNil(t, assessed.Risk)
	require.Equal(t, runbooks.RiskHigh, assessed.Risk.Level)
	require.Equal(t, []string{"the previous release (1.4.1) into staging ended rollback-incomplete: what it left may still be in place"}, assessed.Risk.Reasons)
}
