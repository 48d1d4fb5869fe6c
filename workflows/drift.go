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
	// Slots are the per-slot workspaces of an environment with traffic
	// slots; when set they are checked instead of Workspace.
	Slots []terraform.Workspace `json:"slots,omitempty"`
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
	var out DriftResult
	var err error
	if len(in.Slots) > 0 {
		out, err = driftSlots(ctx, in.Slots)
	} else {
		out, err = driftOf(ctx, in.Workspace)
	}
	out.Checked = workflow.Now(ctx).UTC()
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s %s**: %s — %s", in.Service, in.Environment, out.State, out.Summary))
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrStatus.ValueSet(out.State)); err != nil {
		workflow.GetLogger(ctx).Warn("search attribute not updated", "error", err)
	}
	info := workflow.GetInfo(ctx).WorkflowExecution
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID: info.ID + "/" + info.RunID + "/drift", Time: out.Checked, Actor: in.Requester,
		Action: "drift." + out.State, Release: info.ID, Service: in.Service, Environment: in.Environment,
		Outcome: out.State, Detail: out.Summary, Channel: driftChannel(in.Requester),
	}}, nil)
	return out, err
}

// driftOf checks one workspace. A check that could not run says so: it
// must not look like one still running.
func driftOf(ctx workflow.Context, ws terraform.Workspace) (DriftResult, error) {
	var res terraform.DriftResult
	err := workflow.ExecuteActivity(ctx, tfActs.Drift, terraform.DriftInput{Workspace: ws}).Get(ctx, &res)
	out := DriftResult{State: StateInSync, Summary: "no changes outside releases"}
	switch {
	case err != nil:
		out.State, out.Summary = StateFailed, rootMessage(err)
	case res.Drifted:
		out.State, out.Summary = StateDrifted, res.Summary.String()
	case res.NothingReleased:
		out.Summary = "nothing released to this environment yet"
	}
	return out, err
}

// driftSlots checks every slot of an environment; the environment has
// drifted when one slot has, and the summary names each slot.
func driftSlots(ctx workflow.Context, slots []terraform.Workspace) (DriftResult, error) {
	out := DriftResult{State: StateInSync}
	var parts []string
	var firstErr error
	for _, ws := range slots {
		r, err := driftOf(ctx, ws)
		if r.Summary == "nothing released to this environment yet" {
			r.Summary = "nothing released to this slot yet"
		}
		parts = append(parts, ws.Slot+": "+r.Summary)
		switch {
		case err != nil && firstErr == nil:
			firstErr, out.State = err, StateFailed
		case r.State == StateDrifted && out.State != StateFailed:
			out.State = StateDrifted
		}
	}
	out.Summary = strings.Join(parts, "; ")
	return out, firstErr
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
