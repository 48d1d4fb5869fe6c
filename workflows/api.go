// Package workflows holds the deterministic workflow code of runbook: the
// Release workflow, one Environment child workflow per environment, the step
// interpreter with its compensation stack, and the status query and decision
// Updates. Nothing here does I/O; side effects live in activities/.
package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/runbooks"
)

// Workflow, query, update and signal names. They are part of the wire
// contract with running releases and the CLI: never rename them.
const (
	ReleaseWorkflowName     = "Release"
	EnvironmentWorkflowName = "Environment"

	QueryStatus = "status"

	UpdateApprove = "approve"
	UpdateReject  = "reject"
	UpdatePause   = "pause"
	UpdateResume  = "resume"
	UpdateAbort   = "abort"
	// UpdatePromote ends the bake of the current traffic weight early (or
	// accepts an inconclusive analysis) and moves to the next weight.
	UpdatePromote = "promote"
	// UpdateResolveMigration decides on a failed (dirty) migration.
	UpdateResolveMigration = "resolve-migration"

	// signalProgress carries an environment's status snapshot to its release.
	signalProgress = "environment-progress"
)

// DefaultTaskQueue is where workers listen unless configured otherwise.
const DefaultTaskQueue = "runbook"

// Search attributes kept current by the workflows so SREs can filter
// releases in the Web UI. `runbook dev` and `runbook worker` register them.
var (
	AttrService     = temporal.NewSearchAttributeKeyKeyword("RunbookService")
	AttrEnvironment = temporal.NewSearchAttributeKeyKeyword("RunbookEnvironment")
	AttrVersion     = temporal.NewSearchAttributeKeyKeyword("RunbookVersion")
	AttrStep        = temporal.NewSearchAttributeKeyKeyword("RunbookStep")
	AttrStatus      = temporal.NewSearchAttributeKeyKeyword("RunbookStatus")
	// AttrBreakGlass is "true" on emergency releases and their environments.
	AttrBreakGlass = temporal.NewSearchAttributeKeyKeyword("RunbookBreakGlass")
	// AttrRisk is the risk level (low, medium, high) once assessed; on a
	// release, the highest of its environments.
	AttrRisk = temporal.NewSearchAttributeKeyKeyword("RunbookRisk")
)

// SearchAttributeNames lists the custom search attributes (all Keyword).
var SearchAttributeNames = []string{"RunbookService", "RunbookEnvironment", "RunbookVersion", "RunbookStep", "RunbookStatus",
	"RunbookBreakGlass", "RunbookRisk"}

// ReleaseID is the deterministic workflow ID of a release.
func ReleaseID(service, version string) string {
	return "release/" + service + "/" + version
}

// RollbackID is the workflow ID of the n-th rollback (from 1) of service
// in env: a rollback is a release of its own, of an earlier version.
func RollbackID(service, env string, n int) string {
	return fmt.Sprintf("rollback/%s/%s/%d", service, env, n)
}

// RollbackRequest marks a release that puts an earlier version back into
// one environment (`runbook rollback`): what it rolls back, and why.
type RollbackRequest struct {
	// Of is the release whose version is being replaced, FromVersion its
	// version; the release's own Version is the one going back.
	Of          string `json:"of"`
	FromVersion string `json:"from-version"`
	Reason      string `json:"reason"`
	// Path is RollbackTraffic when the version still runs in the other
	// slot and only traffic moves, RollbackFull when it is provisioned
	// again.
	Path string `json:"path"`
}

// Rollback paths.
const (
	RollbackTraffic = "traffic"
	RollbackFull    = "full"
)

// Describe is the rollback in one line, for flags, summaries and audit.
func (r *RollbackRequest) Describe(version string) string {
	return fmt.Sprintf("ROLLBACK of %s (%s → %s, %s path): %s", r.Of, r.FromVersion, version, r.Path, r.Reason)
}

// EnvironmentID is the workflow ID of the environment child workflow. It does
// not contain the version on purpose: Temporal allows one running workflow per
// ID, which gives "one live release per service and environment" for free.
func EnvironmentID(service, env string) string {
	return "deploy/" + service + "/" + env
}

// ReleaseInput is the one input of the Release workflow.
type ReleaseInput struct {
	// Runbook is resolved: relative artifact paths made absolute, digest set.
	Runbook   runbooks.Runbook `json:"runbook"`
	Version   string           `json:"version"`
	Digest    string           `json:"digest"`
	Requester string           `json:"requester"`
	// RunbookFile is where the runbook came from, for the audit trail.
	RunbookFile string `json:"runbook-file,omitempty"`
	// UIURL is the Web UI's base, for links in Slack messages.
	UIURL string `json:"ui-url,omitempty"`
	// BreakGlass marks an emergency release (deploy --break-glass).
	BreakGlass *BreakGlassRequest `json:"break-glass,omitempty"`
	// Build is where the artifact came from (deploy --commit and friends).
	Build *BuildInfo `json:"build,omitempty"`
	// RequesterProof is the requester's signature of DeployClaim, checked
	// by each environment against the worker's trust roots.
	RequesterProof *identity.Proof `json:"requester-proof,omitempty"`
	// Rollback, when set, makes this release a rollback (runbook rollback).
	Rollback *RollbackRequest `json:"rollback,omitempty"`
	// Lean is the newest version of the lean-release change the client
	// knows (LeanMax): the release takes it instead of asking, which would
	// cost a marker and a visibility write (givenLeanVersion).
	Lean int `json:"lean,omitempty"`
	// Trigger, when set, names the schedule or event that started the
	// release instead of a person; it never bypasses gates, windows or
	// freezes.
	Trigger *Trigger `json:"trigger,omitempty"`
	// RequestedAt is when the requester signed, when that was before the
	// release started: a train signs every release it will start at its
	// own start. Zero means the release's start.
	RequestedAt time.Time `json:"requested-at,omitzero"`
	// Train names the train run (its workflow ID) this release is part of.
	Train string `json:"train,omitempty"`
}

// Trigger is what started a release that no person started.
type Trigger struct {
	// Kind is "schedule" or "webhook".
	Kind string `json:"kind"`
	// Source names it: the schedule's ID, or the webhook's sender (github,
	// gitlab, oci) and repository.
	Source string `json:"source"`
	// ID identifies the firing: the schedule's action time, or the
	// webhook's delivery ID (which deduplicates deliveries).
	ID string `json:"id"`
	// Detail is what fired it, e.g. "tag v1.4.2 pushed by alice".
	Detail string `json:"detail,omitempty"`
}

// Describe is the trigger in one line, for status and audit.
func (t *Trigger) Describe() string {
	s := fmt.Sprintf("started by %s %s (%s)", t.Kind, t.Source, t.ID)
	if t.Detail != "" {
		s += ": " + t.Detail
	}
	return s
}

// ReleaseResult is what a successful release returns.
type ReleaseResult struct {
	Status ReleaseStatus `json:"status"`
}

// EnvironmentInput is the one input of the Environment workflow.
type EnvironmentInput struct {
	ReleaseID string               `json:"release-id"`
	Service   string               `json:"service"`
	Owner     string               `json:"owner"`
	Version   string               `json:"version"`
	Artifact  runbooks.Artifact    `json:"artifact"`
	Requester string               `json:"requester"`
	Policy    runbooks.Policy      `json:"policy"`
	Env       runbooks.Environment `json:"environment"`
	// UIURL is the Web UI's base, for links in Slack messages.
	UIURL string `json:"ui-url,omitempty"`
	// BreakGlass and Build come from the release (see ReleaseInput).
	BreakGlass *BreakGlassRequest `json:"break-glass,omitempty"`
	Build      *BuildInfo         `json:"build,omitempty"`
	Digest     string             `json:"digest,omitempty"`
	// RunbookFile is the runbook's path as deployed, for the commands a
	// rollback-incomplete environment tells people to run.
	RunbookFile string `json:"runbook-file,omitempty"`
	// RequesterProof is the release's signature (ReleaseInput); RequestedAt
	// is when the release started, the time its freshness is judged at.
	RequesterProof *identity.Proof `json:"requester-proof,omitempty"`
	RequestedAt    time.Time       `json:"requested-at,omitzero"`
	// Rollback comes from the release (ReleaseInput.Rollback).
	Rollback *RollbackRequest `json:"rollback,omitempty"`
	// Lean is the release's version of leanChange, from version 3 on: the
	// environment takes it instead of asking (see givenLeanVersion).
	Lean int `json:"lean,omitempty"`
}

// EnvironmentResult is what an environment returns when it succeeded.
type EnvironmentResult struct {
	Status EnvironmentStatus `json:"status"`
}

// States of releases, environments, steps, gates and compensations. They are
// also the values of the RunbookStatus search attribute.
const (
	StatePending      = "pending"
	StateWaiting      = "waiting"
	StateRunning      = "running"
	StatePaused       = "paused"
	StateSucceeded    = "succeeded"
	StateFailed       = "failed"
	StateRollingBack  = "rolling-back"
	StateRolledBack   = "rolled-back"
	StateAborted      = "aborted"
	StateRejected     = "rejected"
	StateApproved     = "approved"
	StateTimedOut     = "timed-out"
	StateCompensated  = "compensated"
	StateDone         = "done"
	StateNotReached   = "not-reached"
	StateInterrupted  = "interrupted"
	StateCompensating = "compensating"
	// StateNotNeeded marks the compensations of an environment that
	// succeeded: they were ready, and never had to run.
	StateNotNeeded = "not-needed"
	// StateKept marks a compensation that deliberately changed nothing:
	// irreversible migrations leave the additive schema in place.
	StateKept = "kept"
	// StateNothingToUndo marks a compensation whose read-back found the
	// system as the step had found it: the step's effect never happened
	// (e.g. an abort before the migration ran).
	StateNothingToUndo = "nothing-to-undo"
	// StateRollbackIncomplete ends an environment (and its release) whose
	// rollback could not undo, or could not read back, every effect: its
	// Leftovers say what is left and how to finish it.
	StateRollbackIncomplete = "rollback-incomplete"
)

// ReleaseStatus is the answer of the Release workflow's status query.
type ReleaseStatus struct {
	ReleaseID          string              `json:"release-id"`
	Service            string              `json:"service"`
	Owner              string              `json:"owner"`
	Version            string              `json:"version"`
	Digest             string              `json:"digest"`
	Requester          string              `json:"requester"`
	State              string              `json:"state"`
	Reason             string              `json:"reason,omitempty"`
	CurrentEnvironment string              `json:"current-environment,omitempty"`
	StartedAt          time.Time           `json:"started-at"`
	EndedAt            time.Time           `json:"ended-at,omitzero"`
	Environments       []EnvironmentStatus `json:"environments"`
	// BreakGlass is the reason of an emergency release, empty otherwise.
	BreakGlass string     `json:"break-glass,omitempty"`
	Build      *BuildInfo `json:"build,omitempty"`
	// Rollback is set on a rollback release: what it rolls back and why.
	Rollback *RollbackRequest `json:"rollback,omitempty"`
	// Trigger is set on a release a schedule or an event started.
	Trigger *Trigger `json:"trigger,omitempty"`
	// Soak is set while the release waits between two environments.
	Soak *SoakStatus `json:"soak,omitempty"`
}

// SoakStatus is a wait between environments (environments[].soak).
type SoakStatus struct {
	Environment string    `json:"environment"`
	Next        string    `json:"next"`
	Until       time.Time `json:"until"`
}

// Finished reports whether the release reached a final state.
func (s ReleaseStatus) Finished() bool { return isFinal(s.State) }

// Current returns the environment that is running now, if any.
func (s ReleaseStatus) Current() (EnvironmentStatus, bool) {
	for _, e := range s.Environments {
		if e.Name == s.CurrentEnvironment {
			return e, true
		}
	}
	return EnvironmentStatus{}, false
}

// EnvironmentStatus is one environment's progress.
type EnvironmentStatus struct {
	Name string `json:"name"`
	// Revision increases with every published snapshot. Signals between
	// workflows are not delivered in order, so the release keeps the newest.
	Revision    int64  `json:"revision"`
	WorkflowID  string `json:"workflow-id,omitempty"`
	RunID       string `json:"run-id,omitempty"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	CurrentStep string `json:"current-step,omitempty"`
	// Paused is set while a pause is in effect; PausedBy says who paused.
	Paused    bool         `json:"paused,omitempty"`
	PausedBy  string       `json:"paused-by,omitempty"`
	StartedAt time.Time    `json:"started-at,omitzero"`
	EndedAt   time.Time    `json:"ended-at,omitzero"`
	Steps     []StepStatus `json:"steps"`
	// Compensations is the rollback plan in the order it would run (or ran).
	Compensations []CompensationStatus `json:"compensations"`
	// Traffic is set in environments with a traffic section: the slots, the
	// weights and the SLO analysis of the traffic step.
	Traffic *TrafficStatus `json:"traffic,omitempty"`
	// Flags are the feature flags the environment's flag steps moved, each
	// at its stage (read back from the provider).
	Flags []FlagStatus `json:"flags,omitempty"`
	// BreakGlass is set once the emergency group let this environment pass
	// a closed window or a freeze: who approved and what was passed.
	BreakGlass string `json:"break-glass,omitempty"`
	// Risk is the environment's risk level once assess-risk ran.
	Risk *RiskStatus `json:"risk,omitempty"`
	// Leftovers are the effects a rollback could not undo or read back
	// (state rollback-incomplete), each with how to finish it by hand.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// AuditPending counts audit records the store has not taken yet: they
	// are retried in the background and the environment closes only once
	// every one is written.
	AuditPending int `json:"audit-pending,omitempty"`
	// Identity says how decisions are checked here: "signed: ssh, slack"
	// or "unsigned: names are taken as given ...".
	Identity string `json:"identity,omitempty"`
	// Requester is who asked for the release, as verified.
	Requester *identity.Identity `json:"requester-identity,omitempty"`
	// PhasesOnly says the environment sends its release a snapshot only
	// when its phase changes (progressPhasesChange): the release's copy
	// of the steps may lag, and clients read them from the environment
	// itself (releases.Client.Status does).
	PhasesOnly bool `json:"phases-only,omitempty"`
}

// Leftover is one effect of a step that a rollback did not undo: what the
// real system showed when it was read back, and the command that finishes it.
type Leftover struct {
	Step string `json:"step"`
	What string `json:"what"`
	Fix  string `json:"fix"`
}

// FlagStatus is one feature flag a flag step moves.
type FlagStatus struct {
	Flag string `json:"flag"`
	Step string `json:"step"`
	// Stage is the stage set now (1-based; 0 before the first), of Stages.
	Stage  int `json:"stage"`
	Stages int `json:"stages"`
	// Rollout is what the provider shows now; Previous what it showed
	// before the step (what a rollback restores).
	Rollout  string `json:"rollout"`
	Previous string `json:"previous"`
	// Experiment is the step's last comparison of its business metric
	// between the variants (flag.experiment), at Stage.
	Experiment *metrics.ExperimentResult `json:"experiment,omitempty"`
}

// TrafficStatus is where the traffic of an environment stands and what the
// analysis measured.
type TrafficStatus struct {
	Provider string `json:"provider"`
	// Live is the slot that served before the release; Target receives the
	// new version.
	Live   string `json:"live"`
	Target string `json:"target"`
	// Weights are the router's weights as last read back.
	Weights  map[string]int `json:"weights,omitempty"`
	Strategy string         `json:"strategy,omitempty"`
	// Phase counts the weights of the strategy (1-based) out of Phases.
	Phase  int `json:"phase,omitempty"`
	Phases int `json:"phases,omitempty"`
	// BakeEnds is when the current weight's bake is due to end.
	BakeEnds time.Time `json:"bake-ends,omitzero"`
	// Hold says why the shift waits for a person (inconclusive analysis).
	Hold string `json:"hold,omitempty"`
	// Rounds are the latest analysis rounds (at most maxRounds), oldest first.
	Rounds []metrics.MeasureResult `json:"rounds,omitempty"`
	// Decisive is the round that failed the analysis or held it.
	Decisive *metrics.MeasureResult `json:"decisive,omitempty"`
	// RevertedAt is when all traffic was back on the live slot after a breach.
	RevertedAt time.Time `json:"reverted-at,omitzero"`
}

// PendingGates returns the gates waiting for a decision now.
func (e EnvironmentStatus) PendingGates() []GateStatus {
	var out []GateStatus
	for _, s := range e.Steps {
		if s.Gate != nil && s.Gate.State == StateWaiting {
			out = append(out, *s.Gate)
		}
	}
	return out
}

// StepStatus is one step's progress and outcome.
type StepStatus struct {
	Name      string      `json:"name"`
	Kind      string      `json:"kind"`
	State     string      `json:"state"`
	Detail    string      `json:"detail,omitempty"`
	Error     string      `json:"error,omitempty"`
	StartedAt time.Time   `json:"started-at,omitzero"`
	EndedAt   time.Time   `json:"ended-at,omitzero"`
	Gate      *GateStatus `json:"gate,omitempty"`
}

// GateStatus is an approval gate: who may decide, and who did.
type GateStatus struct {
	Name         string   `json:"name"`
	State        string   `json:"state"`
	Approvers    []string `json:"approvers,omitempty"`
	MinApprovals int      `json:"min-approvals"`
	Instructions string   `json:"instructions,omitempty"`
	// RejectNeedsReason: a rejection without a comment is refused.
	RejectNeedsReason bool `json:"reject-needs-reason,omitempty"`
	// EscalateTo get the gate for one more timeout when it times out;
	// Escalated says that happened (Approvers are then EscalateTo).
	EscalateTo []string `json:"escalate-to,omitempty"`
	Escalated  bool     `json:"escalated,omitempty"`
	// RemindAfter is when the one Slack reminder is due after opening.
	RemindAfter time.Duration `json:"remind-after,omitempty"`
	Deadline    time.Time     `json:"deadline,omitzero"`
	Approvals   []Decision    `json:"approvals,omitempty"`
	Rejection   *Decision     `json:"rejection,omitempty"`
	// SlackChannel and SlackTS locate the gate's Slack message, if posted.
	SlackChannel string `json:"slack-channel,omitempty"`
	SlackTS      string `json:"slack-ts,omitempty"`
}

// Decision is one person's approval or rejection.
type Decision struct {
	Actor   string    `json:"actor"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	// Verified is how the actor was verified ("ssh SHA256:…", "slack U…",
	// "oidc …", "unsigned"); empty in runs from before signed decisions.
	Verified string `json:"verified,omitempty"`
}

// CompensationStatus is one entry of the rollback plan.
type CompensationStatus struct {
	Step   string `json:"step"`
	Action string `json:"action"`
	State  string `json:"state"`
	Error  string `json:"error,omitempty"`
	// ReadBack is what the real system showed after the compensation ran
	// (router weights, schema version, state, the hook's answer).
	ReadBack string `json:"read-back,omitempty"`
}

// DecisionInput is the argument of the approve and reject Updates.
type DecisionInput struct {
	// Gate names the gate; empty means "the one gate waiting now".
	Gate    string `json:"gate,omitempty"`
	Actor   string `json:"actor"`
	Comment string `json:"comment,omitempty"`
	// Channel says where the decision was made: cli, slack; empty is an
	// Update sent some other way, e.g. from the Web UI.
	Channel string `json:"channel,omitempty"`
	// Groups are the approver groups the actor belongs to, as the channel
	// verified them (Slack user groups): approvers may list "group:NAME".
	Groups []string `json:"groups,omitempty"`
	// Proof signs DecisionClaim; required where the environment's identity
	// is signed.
	Proof *identity.Proof `json:"proof,omitempty"`
	// Unsigned says why a channel that signs for people (Slack) sent this
	// decision without a proof: UnsignedUnmapped or UnsignedNoKey. It only
	// words the refusal in a signed environment; it proves nothing.
	Unsigned string `json:"unsigned,omitempty"`
}

// Why the worker's Slack endpoint sent a click unsigned (DecisionInput.Unsigned).
const (
	// UnsignedUnmapped: the Slack user is not in RUNBOOK_SLACK_USERS.
	UnsignedUnmapped = "unmapped"
	// UnsignedNoKey: the worker has no RUNBOOK_SLACK_SIGNING_KEY.
	UnsignedNoKey = "no-signing-key"
)

// GroupPrefix marks an approver entry that names a group.
const GroupPrefix = runbooks.GroupPrefix

// mayDecide reports whether the decision's actor, or one of its groups, is
// among approvers.
func mayDecide(approvers []string, actor string, groups []string) bool {
	if slices.Contains(approvers, actor) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(approvers, GroupPrefix+g) {
			return true
		}
	}
	return false
}

// decisionChannel names the channel of a decision for the audit log.
func decisionChannel(in DecisionInput) string {
	if in.Channel == "" {
		return "ui"
	}
	return in.Channel
}

// signChannel is the channel whose advice a refused unsigned decision gets
// (howToSign): the decision's channel and, when the channel said, why it
// could not sign.
func signChannel(in DecisionInput) string {
	if in.Unsigned != "" {
		return decisionChannel(in) + "/" + in.Unsigned
	}
	return decisionChannel(in)
}

// DecisionResult tells the caller what their decision did.
type DecisionResult struct {
	Gate      string `json:"gate"`
	GateState string `json:"gate-state"`
	Approvals int    `json:"approvals"`
	Needed    int    `json:"needed"`
}

// ControlInput is the argument of the pause, resume, promote and abort Updates.
type ControlInput struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// Proof signs ControlClaim (see DecisionInput.Proof).
	Proof *identity.Proof `json:"proof,omitempty"`
}

// ControlResult tells the caller the environment's state after the Update.
type ControlResult struct {
	State string `json:"state"`
}

// Error types carried by failed releases; the CLI prints them as the reason.
const (
	ErrTypeRejected   = "ReleaseRejected"
	ErrTypeAborted    = "ReleaseAborted"
	ErrTypeTimedOut   = "ApprovalTimedOut"
	ErrTypeStepFailed = "StepFailed"
	ErrTypeLocked     = "EnvironmentLocked"
	ErrTypeInvalid    = "InvalidRelease"
	// ErrTypeSLOBreach: an SLO failed during a traffic shift; the traffic
	// went back to the live slot before the rollback.
	ErrTypeSLOBreach = "SLOBreach"
)

func isFinal(state string) bool {
	switch state {
	case StateSucceeded, StateFailed, StateRolledBack, StateRollbackIncomplete, StateAborted, StateRejected, StateTimedOut:
		return true
	}
	return false
}

// Summary renders the release as a short markdown text for the Web UI's
// current details: what blocks it first, then one line per environment
// (its state, its step, the approvers of an open gate); long things last.
// The release's own line only when it says more than the UI's Running
// badge and the summary (service, version) above: a reason, a final state.
func (s ReleaseStatus) Summary() string {
	var b strings.Builder
	if line := s.blockingRelease(); line != "" {
		b.WriteString(blockingMarkdown(line) + "\n\n")
	}
	if s.State != StateRunning || s.Reason != "" {
		fmt.Fprintf(&b, "**%s %s** — %s", s.Service, s.Version, s.State)
		if s.Reason != "" {
			fmt.Fprintf(&b, ": %s", s.Reason)
		}
		b.WriteString("\n\n")
	}
	if s.BreakGlass != "" {
		fmt.Fprintf(&b, "**⚠ BREAK-GLASS:** %s\n\n", s.BreakGlass)
	}
	if r := s.Rollback; r != nil {
		fmt.Fprintf(&b, "**⚠ %s**\n\n", r.Describe(s.Version))
	}
	for _, e := range s.Environments {
		fmt.Fprintf(&b, "- %s: %s", e.Name, e.State)
		if step := e.knownStep(); step != "" && !isFinal(e.State) {
			fmt.Fprintf(&b, " (step %s)", step)
		}
		if e.Risk != nil {
			fmt.Fprintf(&b, " — risk %s", e.Risk)
		}
		for _, g := range e.PendingGates() {
			fmt.Fprintf(&b, " — waiting for approval at gate %s from %s", g.Name, GateApprovers(&g))
		}
		b.WriteString("\n")
	}
	if build := s.Build.String(); build != "" {
		fmt.Fprintf(&b, "\nBuild: %s\n", build)
	}
	return b.String() + frameEnd
}
