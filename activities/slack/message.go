// Package slack posts and updates the Block Kit message of an approval gate in
// an environment's Slack channel, and posts release progress into its thread.
// The messages carry Approve / Reject buttons whose value routes a click back
// to the environment workflow; internal/slackin receives those clicks.
//
// This package must not import workflows: the workflows call these activities
// through a typed nil *Activities, so the dependency goes the other way.
package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Action IDs of the gate message's buttons. They are part of the wire contract
// with messages already posted in Slack: never rename them.
const (
	ActionApprove = "runbook.approve"
	ActionReject  = "runbook.reject"
)

// Gate states shown by the message. The values are those of the workflows
// package's State* constants, repeated here to avoid an import cycle.
const (
	StateWaiting     = "waiting"
	StateApproved    = "approved"
	StateRejected    = "rejected"
	StateTimedOut    = "timed-out"
	StateInterrupted = "interrupted"
)

// MaxValueLen is Slack's limit on a button's value.
const MaxValueLen = 2000

// GateMessage is everything the approval message of one gate shows. The
// workflow builds it from its state and passes it to PostGate and UpdateGate,
// so it must hold no secrets: it ends up in workflow history.
type GateMessage struct {
	ReleaseID   string `json:"release-id"`
	Service     string `json:"service"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
	Requester   string `json:"requester"`
	Gate        string `json:"gate"`
	// Instructions are the gate's instructions from the runbook.
	Instructions string     `json:"instructions,omitempty"`
	Approvers    []string   `json:"approvers,omitempty"`
	MinApprovals int        `json:"min-approvals"`
	Approvals    []Approval `json:"approvals,omitempty"`
	Rejection    *Approval  `json:"rejection,omitempty"`
	// Reason is the rejection's reason.
	Reason string `json:"reason,omitempty"`
	// State is one of the State* constants.
	State string `json:"state"`
	// Changes are plan summary lines, e.g. "~ local_process.app (replace)".
	Changes []string `json:"changes,omitempty"`
	// Migrations are pending migrations with their class, e.g. "3_add_note (expand)".
	Migrations []string `json:"migrations,omitempty"`
	// Flags are warnings shown above everything else, e.g. "BREAK-GLASS:
	// hotfix for INC-42" or "Risk high: contract migration".
	Flags []string `json:"flags,omitempty"`
	// Build is the build metadata line: commit, build time, team.
	Build string `json:"build,omitempty"`
	// SLOCheck is the command that proves the environment's SLO queries
	// return data now, for an approver about to let a canary start.
	SLOCheck string `json:"slo-check,omitempty"`
	// UILink points at the release in the Temporal Web UI.
	UILink   string    `json:"ui-link,omitempty"`
	Deadline time.Time `json:"deadline,omitzero"`
	// EnvWorkflowID and EnvRunID name the environment workflow that receives
	// the decision Update; a click on a message of an earlier run must not
	// decide a later run's gate.
	EnvWorkflowID string `json:"env-workflow-id"`
	EnvRunID      string `json:"env-run-id,omitempty"`
}

// Approval is one person's decision as the message shows it.
type Approval struct {
	Actor string    `json:"actor"`
	At    time.Time `json:"at"`
}

// Route is what a button's value carries: enough to send the decision to the
// right gate of the right workflow run. The JSON keys are short because Slack
// limits values to MaxValueLen characters; they are a wire contract too.
type Route struct {
	ReleaseID     string `json:"r"`
	EnvWorkflowID string `json:"w"`
	EnvRunID      string `json:"u,omitempty"`
	Gate          string `json:"g"`
}

// RouteOf returns the route of the message's buttons.
func RouteOf(m GateMessage) Route {
	return Route{ReleaseID: m.ReleaseID, EnvWorkflowID: m.EnvWorkflowID, EnvRunID: m.EnvRunID, Gate: m.Gate}
}

// Encode renders the route as a button value.
func (r Route) Encode() string {
	b, _ := json.Marshal(r) // a struct of strings always marshals
	return string(b)
}

// Validate reports what is missing for the route to reach a gate.
func (r Route) Validate() error {
	var missing []string
	if r.ReleaseID == "" {
		missing = append(missing, "release id")
	}
	if r.EnvWorkflowID == "" {
		missing = append(missing, "environment workflow id")
	}
	if r.Gate == "" {
		missing = append(missing, "gate")
	}
	if len(missing) > 0 {
		return fmt.Errorf("button value lacks %s", strings.Join(missing, ", "))
	}
	if n := len(r.Encode()); n > MaxValueLen {
		return fmt.Errorf("button value is %d characters, Slack allows %d", n, MaxValueLen)
	}
	return nil
}

// DecodeRoute parses a button value written by Encode.
func DecodeRoute(s string) (Route, error) {
	if len(s) > MaxValueLen {
		return Route{}, fmt.Errorf("button value is %d characters, Slack allows %d", len(s), MaxValueLen)
	}
	var r Route
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return Route{}, fmt.Errorf("button value is not a runbook route: %w", err)
	}
	return r, r.Validate()
}
