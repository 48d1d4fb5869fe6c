// Package terraform runs OpenTofu (or Terraform) for the runbook's provision
// step through terraform-exec: plan to a saved plan file, apply exactly that
// plan, read outputs, destroy, and check for drift.
//
// Every workspace (a service in an environment) has a working directory on the
// worker, <StateDir>/<service>/<environment>, holding a copy of the module, the
// provider cache (.terraform/), the local state unless the module configures a
// backend, and runbook-last-applied.json: the variable references and version
// of the last successful apply, which the compensation re-applies and Drift and
// Destroy plan with. Saved plans are worker-local files, so the workflow must
// run Plan and Apply of one release on the same worker.
//
// Layout of a working directory:
//
//	*.tf, *.tf.json, *.tftpl, subdirectories   copy of the module (refreshed per call)
//	.terraform/, terraform.tfstate             OpenTofu's own
//	runbook-last-applied.json                  the record of the last successful apply
//	runbook-<id>.tfplan                        saved plans, 0600 (they hold variable values)
//	runbook.tfrc                               the empty CLI configuration
//	.runbook/                                  plan metadata and configuration snapshots
package terraform

import (
	"encoding/json"
	"time"
)

// Error types, visible in the Temporal UI.
const (
	// ErrNotFound: no OpenTofu or Terraform binary on this worker. Not retried.
	ErrNotFound = "TerraformNotFound"
	// ErrInvalid: the module, its variables or the input can never plan. Not retried.
	ErrInvalid = "TerraformInvalid"
	// ErrPlanStale: the saved plan is missing, altered, or no longer matches the
	// state. Not retried: the workflow plans again and shows the new plan.
	ErrPlanStale = "TerraformPlanStale"
	// ErrLocked: another run holds the state. Retried.
	ErrLocked = "TerraformLocked"
	// ErrFailed: the command failed; retried only when the failure looks transient.
	ErrFailed = "TerraformFailed"
)

// VersionVar is the variable the release version is passed as. It cannot be
// "version": Terraform and OpenTofu reserve that name for module blocks and
// refuse a variable declared with it. A module that does not declare
// release_version only gets a warning.
const VersionVar = "release_version"

// Activities runs OpenTofu/Terraform for the provision step.
type Activities struct {
	Bin      string // binary; "" = Discover()
	StateDir string // root of working directories: <StateDir>/<service>/<environment>
	// HostQueue is a task queue only this worker's host polls. A saved plan
	// lives on the disk of the worker that made it, so Plan reports this
	// queue and the workflow sends the Apply there.
	HostQueue string

	// observe, when set, sees every progress change as it happens; tests use
	// it because the SDK batches heartbeats for up to 30 s.
	observe func(Progress)
}

// Workspace names what to provision and with which values.
type Workspace struct {
	Service, Environment string
	// Module is the absolute path of the module directory (the .tf files).
	Module string
	// Vars are the module's input values. A value "env:NAME" is read from the
	// worker's environment when the command runs; such values are secrets and
	// are never returned, logged or written anywhere but the 0600 var file
	// (OpenTofu itself keeps them in the saved plan and, if a resource uses
	// them, in the state). Values are strings; OpenTofu converts them to the
	// declared primitive type.
	Vars map[string]string
	// Version is the release version, passed as the variable release_version.
	Version string
	// Slot, when set, gives the workspace its own state per traffic slot:
	// provisioning the target slot never touches the live one.
	Slot string
}

// ResourceChange is one resource a plan changes.
type ResourceChange struct {
	Address string
	Action  string // create, update, replace, delete, read
}

// PlanSummary counts a plan's resource changes. No-op resources are left out;
// Resources is ordered by address.
type PlanSummary struct {
	Add, Change, Replace, Destroy int
	Resources                     []ResourceChange
}

// PlanInput asks for a saved plan; Destroy plans the removal of everything.
type PlanInput struct {
	Workspace
	Destroy bool
}

// PlanResult describes a saved plan for the approval and for Apply.
type PlanResult struct {
	// Changes is false when applying would change nothing, outputs included.
	Changes bool
	// PlanFile is the path of the saved plan inside the working directory (worker-local).
	PlanFile string
	// PlanHash is "sha256:<hex>" of the saved plan file; Apply refuses any other file.
	PlanHash string
	Summary  PlanSummary
	// Previous holds the Vars (env: references, not their values) of the last
	// successful apply of this workspace, nil on the first release: the
	// compensation re-applies them with PreviousVersion.
	Previous        map[string]string
	PreviousVersion string
	// TaskQueue is where the Apply of this plan must run: the host queue of
	// the worker holding the plan file ("" when the worker has none).
	TaskQueue string
}

// ApplyInput names the saved plan to apply and the hash it must have.
type ApplyInput struct {
	Workspace
	PlanFile, PlanHash string
}

// Output is one root module output. Value is empty when Sensitive, and also
// when the value contains a secret read from the worker's environment.
type Output struct {
	Type      string          // type expression, e.g. string, number, map(string), object({a=string})
	Value     json.RawMessage `json:",omitempty"` // omitted, not null, through Temporal's converter
	Sensitive bool
}

// ApplyResult reports an apply.
type ApplyResult struct {
	Outputs map[string]Output
	Applied int // resources whose change completed
	Total   int // resources the plan changes
}

// OutputsInput names the workspace whose outputs to read.
type OutputsInput struct{ Workspace }

// OutputsResult holds the outputs of the state.
type OutputsResult struct{ Outputs map[string]Output }

// DestroyInput names the workspace to tear down.
type DestroyInput struct{ Workspace }

// DestroyResult reports a destroy.
type DestroyResult struct{ Destroyed int }

// DriftInput names the workspace to check.
type DriftInput struct{ Workspace }

// DriftResult reports whether the world still matches the last release.
type DriftResult struct {
	Drifted bool
	// NothingReleased is set when no release was applied to the workspace
	// yet: there is nothing to compare with.
	NothingReleased bool
	// Summary is what re-applying the last release would change to undo the drift.
	Summary PlanSummary
	Checked time.Time
}

// Progress is the heartbeat detail of a running command: the resources done
// out of those planned, and the one being worked on. A retried attempt can
// read it with activity.GetHeartbeatDetails.
type Progress struct {
	Phase   string // init, plan, apply, destroy, output
	Done    int
	Total   int
	Current string
}
