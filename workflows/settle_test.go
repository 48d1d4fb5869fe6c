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
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
)

// slowDecisions wraps the real audit activity and makes each write of a
// person's decision (an action of slow) take a while, as a loaded audit
// store does: what the decision lets happen must still come after its
// record.
type slowDecisions struct {
	acts *audit.Activities
	slow []string
}

func (s slowDecisions) AppendAudit(ctx context.Context, in audit.AppendAuditInput) (audit.AppendAuditResult, error) {
	for _, a := range s.slow {
		if strings.Contains(auditActions(in), a) {
			time.Sleep(300 * time.Millisecond) // the store's latency, not a wait for state
		}
	}
	return s.acts.AppendAudit(ctx, in)
}

// slowDecisionRecords registers slowDecisions for the harness's log.
func slowDecisionRecords(h *harness, actions ...string) {
	h.env.RegisterActivityWithOptions(slowDecisions{acts: &audit.Activities{Log: h.auditLog}, slow: actions}.AppendAudit,
		activity.RegisterOptions{Name: "AppendAudit", DisableAlreadyRegisteredCheck: true})
}

// TestDecisionOnRecordBeforeItActs: from lean-release 6 what a person's
// decision lets happen starts only once the Update's record is written,
// however slow the store. Version 5 could schedule it in the workflow task
// whose local activity was still writing the record (with LeanMax 5 the
// retry's Up ran after 0 decision records).
func TestDecisionOnRecordBeforeItActs(t *testing.T) {
	t.Run("migration retry and force", func(t *testing.T) {
		h := newHarness(t)
		slowDecisionRecords(h, "schema.decision")
		fm := newMigrate(h, atVersion(3, expandM(4, "add_sku", true), expandM(5, "x", true)))
		fm.upErrs = []error{dirtyErr(), dirtyErr()}
		var mu sync.Mutex
		var acted []string
		fm.beforeAct = func(event string) {
			mu.Lock()
			defer mu.Unlock()
			acted = append(acted, fmt.Sprintf("%s after %d decision record(s)", event,
				countPrefix(h.auditActions(), "schema.decision ")))
		}
		h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
		h.at(2*time.Minute, func() { fm.decide(MigrationDecisionInput{Action: MigrationRetry, Actor: "erin"}) })
		h.at(3*time.Minute, func() { fm.decide(MigrationDecisionInput{Action: MigrationForce, Version: 4, Actor: "erin"}) })
		in := dirtyRelease(h)
		in.Lean = LeanMax
		h.runEnvironment(in)

		succeeded(t, h)
		require.Equal(t, []string{
			"up after 0 decision record(s)",
			"up after 1 decision record(s)", // the retry
			"force 4 after 2 decision record(s)",
			"up after 2 decision record(s)",
		}, acted)
		h.verifyAudit()
	})
	t.Run("destructive plan approved inside its step", func(t *testing.T) {
		h := newHarness(t)
		slowDecisionRecords(h, "gate.approved")
		tf := newTF(h, planned(hashB, replaceOne))
		approvedAtApply := -1
		tf.beforeApply = func() { approvedAtApply = countPrefix(h.auditActions(), "gate.approved infra") }
		h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
		in := envInput(infraEnv(runbooks.Infra{}, provisionStep("infra", nil), check("smoke", h.srv.url("/smoke"))))
		in.Lean = LeanMax
		h.runEnvironment(in)

		succeeded(t, h)
		require.Equal(t, []string{hashB}, tf.appliedHashes())
		require.Equal(t, 1, approvedAtApply, "the plan was applied before its approval was on record")
		h.verifyAudit()
	})
}

// countPrefix counts the strings of list that start with prefix.
func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestTrainGateOnRecordBeforeReleasesStart: from train-settle a train starts
// the releases its gate lets through only once the approval's record is
// written, however slow the store.
func TestTrainGateOnRecordBeforeReleasesStart(t *testing.T) {
	h := newHarness(t)
	slowDecisionRecords(h, "train.gate.approved")
	var mu sync.Mutex
	approvedAtStart := -1
	h.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in ReleaseInput) (ReleaseResult, error) {
		mu.Lock()
		defer mu.Unlock()
		approvedAtStart = countPrefix(h.auditActions(), "train.gate.approved")
		return ReleaseResult{Status: ReleaseStatus{ReleaseID: workflow.GetInfo(ctx).WorkflowExecution.ID, State: StateSucceeded}}, nil
	}, workflow.RegisterOptions{Name: ReleaseWorkflowName, DisableAlreadyRegisteredCheck: true})
	h.at(time.Minute, func() { h.update(UpdateApprove, DecisionInput{Actor: "carol"}) })
	rb := runbooks.Runbook{Service: testService, Environments: []runbooks.Environment{{Name: "staging"}}}
	h.env.ExecuteWorkflow(Train, TrainInput{
		Train: "t", Name: "weekly", Requester: testRequester, Environments: []string{"staging"},
		Gates:    []TrainGate{{Environment: "staging", Approval: runbooks.Approval{Name: "cab", Approvers: []string{"carol"}}}},
		Services: []TrainService{{Name: testService, Release: ReleaseInput{Runbook: rb, Version: "1.0.0", Requester: testRequester}}},
	})
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, approvedAtStart, "the release started before the approval that let it was on record")
}
