package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/terraform"
)

// DriftWorkflowName is the workflow type of a drift check.
const DriftWorkflowName = "Drift"

// Drift states, also the RunbookStatus search attribute of drift checks.
const (
	StateDrifted = "drifted"
	StateInSync  = "in-sync"
)

// DriftID is the ID of an environment's drift schedule; each scheduled run
// gets it as its workflow ID prefix.
func DriftID(service, env string) string { return "drift/" + service + "/" + env }

// DriftInput names the environment whose infrastructure is checked.
type DriftInput struct {
	Service     string              `json:"service"`
	Environment string              `json:"environment"`
	Workspace   terraform.Workspace `json:"workspace"`
	// Requester is who asked: a person for `runbook drift check`, the
	// schedule otherwise.
	Requester string `json:"requester"`
}

// DriftResult is the outcome of one drift check.
type DriftResult struct {
	State   string    `json:"state"`
	Summary string    `json:"summary"`
	Checked time.Time `json:"checked"`
}

// Drift plans the environment's module with the variables of its last
// release and reports whether the real infrastructure differs: a change
// made outside a release. The result goes to the audit log, the search
// attributes and the Web UI.
func Drift(ctx workflow.Context, in DriftInput) (DriftResult, error) {
	ctx = workflow.WithActivityOptions(ctx, tfOptions(30*time.Minute, "drift check "+in.Environment))
	var res terraform.DriftResult
	err := workflow.ExecuteActivity(ctx, tfActs.Drift, terraform.DriftInput{Workspace: in.Workspace}).Get(ctx, &res)
	out := DriftResult{State: StateInSync, Summary: "no changes outside releases", Checked: workflow.Now(ctx).UTC()}
	switch {
	case err != nil:
		// A check that could not run must not look like one still running.
		out.State, out.Summary = StateFailed, rootMessage(err)
	case res.Drifted:
		out.State, out.Summary = StateDrifted, res.Summary.String()
	case res.NothingReleased:
		out.Summary = "nothing released to this environment yet"
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s %s**: %s — %s", in.Service, in.Environment, out.State, out.Summary))
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStatus.ValueSet(out.State)); err != nil {
		workflow.GetLogger(ctx).Warn("search attribute not updated", "error", err)
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID: info.ID + "/" + info.RunID + "/drift", Time: out.Checked, Actor: in.Requester,
		Action: "drift." + out.State, Release: info.ID, Service: in.Service, Environment: in.Environment,
		Outcome: out.State, Detail: out.Summary, Channel: driftChannel(in.Requester),
	}})
	if err != nil {
		return out, err
	}
	return out, nil
}

// DriftAttrs are the search attributes a drift check starts with.
func DriftAttrs(service, env string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(AttrService.ValueSet(service), AttrEnvironment.ValueSet(env),
		AttrStatus.ValueSet(StateRunning))
}

// driftChannel says how a drift check was started: by its schedule
// (runbook drift enable) or by a person from the CLI.
func driftChannel(requester string) string {
	if strings.HasPrefix(requester, "schedule ") {
		return "schedule"
	}
	return "cli"
}
