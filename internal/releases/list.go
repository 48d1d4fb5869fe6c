package releases

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/workflows"
)

// ListFilter narrows `runbook list`.
type ListFilter struct {
	Service, Environment, Status string
	// Risk keeps releases assessed at this level; BreakGlass keeps only
	// emergency releases.
	Risk       string
	BreakGlass bool
	// Since, when set, keeps releases started at or after it. Temporal
	// keeps closed workflows only for the namespace's retention, so a
	// range older than that is incomplete.
	Since time.Time
	Limit int
}

// ListItem is one release (or, with an environment filter, one release's
// run in that environment).
type ListItem struct {
	ReleaseID   string    `json:"release-id"`
	Service     string    `json:"service"`
	Version     string    `json:"version"`
	Environment string    `json:"environment,omitempty"`
	Step        string    `json:"step,omitempty"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"started-at"`
}

var safeValue = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)

// Query builds the visibility query for f.
func (f ListFilter) Query() (string, error) {
	wfType := workflows.ReleaseWorkflowName
	if f.Environment != "" {
		wfType = workflows.EnvironmentWorkflowName
	}
	parts := []string{fmt.Sprintf("WorkflowType = '%s'", wfType)}
	for _, c := range []struct{ attr, value string }{
		{"RunbookService", f.Service}, {"RunbookEnvironment", f.Environment}, {"RunbookStatus", f.Status},
		{"RunbookRisk", f.Risk}, {"RunbookBreakGlass", trueOrEmpty(f.BreakGlass)},
	} {
		if c.value == "" {
			continue
		}
		if !safeValue.MatchString(c.value) {
			return "", fmt.Errorf("filter value %q may only contain letters, digits and . _ + -", c.value)
		}
		parts = append(parts, fmt.Sprintf("%s = '%s'", c.attr, c.value))
	}
	if !f.Since.IsZero() {
		parts = append(parts, fmt.Sprintf("StartTime >= '%s'", f.Since.UTC().Format(time.RFC3339)))
	}
	return strings.Join(parts, " AND "), nil
}

// List returns releases, newest first.
func (c *Client) List(ctx context.Context, f ListFilter) ([]ListItem, error) {
	q, err := f.Query()
	if err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: c.Namespace, Query: q, PageSize: int32(f.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list releases (%s): %w", q, err)
	}
	var items []ListItem
	for _, e := range resp.GetExecutions() {
		it := ListItem{ReleaseID: e.GetExecution().GetWorkflowId(), StartedAt: e.GetStartTime().AsTime()}
		// An environment's parent is its release; a release's parent, when
		// it has one, is what started it (a ScheduledRelease), not itself.
		if p := e.GetParentExecution(); p != nil && e.GetType().GetName() == workflows.EnvironmentWorkflowName {
			it.ReleaseID = p.GetWorkflowId()
		}
		fields := e.GetSearchAttributes().GetIndexedFields()
		it.Service = keyword(fields["RunbookService"])
		it.Version = keyword(fields["RunbookVersion"])
		it.Environment = keyword(fields["RunbookEnvironment"])
		it.Step = keyword(fields["RunbookStep"])
		it.Status = keyword(fields["RunbookStatus"])
		items = append(items, it)
	}
	return items, nil
}

// keyword decodes a Keyword search attribute; a missing one is "".
func keyword(p *commonpb.Payload) string {
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

// trueOrEmpty is the filter value of a flag: "true", or "" for no filter.
func trueOrEmpty(b bool) string {
	if b {
		return "true"
	}
	return ""
}
