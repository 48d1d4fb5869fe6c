// Package history reads what earlier releases did, from Temporal's
// visibility store: the facts a risk assessment needs about the past.
package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// Activities queries release history through the Temporal client.
type Activities struct {
	Client    client.Client
	Namespace string
}

// PreviousReleaseInput names the environment workflow whose earlier runs
// are wanted (deploy/<service>/<env>).
type PreviousReleaseInput struct {
	WorkflowID string `json:"workflow-id"`
}

// PreviousReleaseResult is the most recent closed run of that workflow.
type PreviousReleaseResult struct {
	Found bool `json:"found"`
	// Version and State are the run's RunbookVersion and RunbookStatus.
	Version string    `json:"version,omitempty"`
	State   string    `json:"state,omitempty"`
	EndedAt time.Time `json:"ended-at,omitzero"`
}

// PreviousRelease returns the last closed run of the environment workflow.
// The running one is left out by the query, so this is the release before.
func (a *Activities) PreviousRelease(ctx context.Context, in PreviousReleaseInput) (PreviousReleaseResult, error) {
	if a == nil || a.Client == nil {
		return PreviousReleaseResult{}, errors.New("history: no Temporal client configured on this worker")
	}
	if strings.ContainsAny(in.WorkflowID, `'"\`) {
		return PreviousReleaseResult{}, fmt.Errorf("history: workflow ID %q cannot be queried", in.WorkflowID)
	}
	resp, err := a.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: a.Namespace,
		Query:     fmt.Sprintf("WorkflowId = '%s' AND ExecutionStatus != 'Running'", in.WorkflowID),
		PageSize:  20,
	})
	if err != nil {
		return PreviousReleaseResult{}, fmt.Errorf("list earlier runs of %s: %w", in.WorkflowID, err)
	}
	execs := resp.GetExecutions()
	if len(execs) == 0 {
		return PreviousReleaseResult{}, nil
	}
	// Visibility stores order differently; the newest close is what counts.
	last := slices.MaxFunc(execs, func(x, y *workflowpb.WorkflowExecutionInfo) int {
		return x.GetCloseTime().AsTime().Compare(y.GetCloseTime().AsTime())
	})
	fields := last.GetSearchAttributes().GetIndexedFields()
	return PreviousReleaseResult{
		Found:   true,
		Version: keyword(fields["RunbookVersion"]),
		State:   keyword(fields["RunbookStatus"]),
		EndedAt: last.GetCloseTime().AsTime(),
	}, nil
}

// keyword decodes a Keyword search attribute; a missing one is "".
func keyword(p *commonpb.Payload) string {
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}
