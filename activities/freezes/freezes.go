// Package freezes holds organisation-wide change freezes: the Freeze record
// kept by the long-lived Freezes workflow, the names of that workflow's
// query, updates and signals, and the activity environments use to read the
// freezes that apply to them before each step.
//
// The record lives here, in a leaf package, so the workflow (which stores
// it), the activity (which reads it back through a query) and the CLI share
// one definition.
package freezes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/runbookhq/runbook/internal/identity"
)

// Names of the Freezes workflow and its handlers. They are a wire contract
// with running releases and the CLI: never rename them.
const (
	// WorkflowID is the one Freezes workflow of a namespace.
	WorkflowID   = "runbook/freezes"
	WorkflowName = "Freezes"
	// TaskQueue is where the Freezes workflow runs. Every worker polls it,
	// whatever its own queue, so the freezes answer as long as any worker
	// of the namespace runs.
	TaskQueue = "runbook-freezes"
	// QueryList returns every freeze the workflow keeps ([]Freeze).
	QueryList = "freezes"
	// QueryState returns the run's whole state (workflows.FreezesInput):
	// what a new run starts from when this one closed. It answers on a
	// closed run too, while a worker can replay its history.
	QueryState = "freezes-state"
	// UpdateCreate creates a freeze (CreateInput → Freeze).
	UpdateCreate = "freeze-create"
	// UpdateLift ends a freeze before its end (LiftInput → Freeze).
	UpdateLift = "freeze-lift"
	// SignalWatch asks to be told (SignalChanged) when the freezes change;
	// environments held by a freeze send it with their own execution.
	SignalWatch = "freeze-watch"
	// SignalChanged tells a watcher to read the freezes again.
	SignalChanged = "freezes-changed"
)

// Freeze stops releases into the environments and services it covers from
// From until To (or until lifted when To is zero).
type Freeze struct {
	ID string `json:"id"`
	// Services and Environments scope the freeze; empty means all.
	Services     []string  `json:"services,omitempty"`
	Environments []string  `json:"environments,omitempty"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to,omitempty"`
	Reason       string    `json:"reason"`
	CreatedBy    string    `json:"created-by"`
	CreatedAt    time.Time `json:"created-at"`
	LiftedBy     string    `json:"lifted-by,omitempty"`
	LiftedAt     time.Time `json:"lifted-at,omitempty"`
	LiftReason   string    `json:"lift-reason,omitempty"`
	// CreatedIdentity and LiftedIdentity say how CreatedBy and LiftedBy
	// were verified: "ssh SHA256:…", "oidc ISSUER SUBJECT", or "unsigned"
	// (a name taken as given, on a worker without trust roots); empty for
	// freezes from before signed freezes.
	CreatedIdentity string `json:"created-identity,omitempty"`
	LiftedIdentity  string `json:"lifted-identity,omitempty"`
	// Once is the CreateInput's Once the freeze was declared with.
	Once string `json:"once,omitempty"`
	// Repeat is set only on the answer to a create that found a freeze of
	// the same Once still holding and returned it instead; never stored.
	Repeat bool `json:"repeat,omitempty"`
}

// Unsigned is the identity of a freeze decided by a name taken as given.
const Unsigned = "unsigned"

// By is who created the freeze, marked when the name was not verified.
func (f Freeze) By() string { return markUnsigned(f.CreatedBy, f.CreatedIdentity) }

// LiftedByNote is who lifted the freeze, marked when not verified.
func (f Freeze) LiftedByNote() string { return markUnsigned(f.LiftedBy, f.LiftedIdentity) }

func markUnsigned(name, identity string) string {
	if identity == Unsigned {
		return name + " (unsigned)"
	}
	return name
}

// Covers reports whether the freeze applies to service in env.
func (f Freeze) Covers(service, env string) bool {
	return (len(f.Services) == 0 || slices.Contains(f.Services, service)) &&
		(len(f.Environments) == 0 || slices.Contains(f.Environments, env))
}

// ActiveAt reports whether the freeze holds releases at t.
func (f Freeze) ActiveAt(t time.Time) bool {
	return f.LiftedAt.IsZero() && !t.Before(f.From) && (f.To.IsZero() || t.Before(f.To))
}

// Ended reports whether the freeze can no longer hold anything after t.
func (f Freeze) Ended(t time.Time) bool {
	return !f.LiftedAt.IsZero() || (!f.To.IsZero() && !t.Before(f.To))
}

// Scope says what the freeze covers, e.g. "services checkout in prod".
func (f Freeze) Scope() string {
	svc, env := "all services", "all environments"
	if len(f.Services) > 0 {
		svc = "services " + strings.Join(f.Services, ",")
	}
	if len(f.Environments) > 0 {
		env = strings.Join(f.Environments, ",")
	}
	return svc + " in " + env
}

// Until says when the freeze ends, for people.
func (f Freeze) Until() string {
	if f.To.IsZero() {
		return "until lifted"
	}
	return "until " + f.To.UTC().Format(time.RFC3339)
}

// Describe is one line naming the freeze, its scope, end and reason.
func (f Freeze) Describe() string {
	return fmt.Sprintf("freeze %s (%s, %s, by %s): %s", f.ID, f.Scope(), f.Until(), f.By(), f.Reason)
}

// Holding returns the freezes among fs that hold service in env at t, the
// one that ends last first (an open-ended freeze counts as latest).
func Holding(fs []Freeze, service, env string, t time.Time) []Freeze {
	var out []Freeze
	for _, f := range fs {
		if f.Covers(service, env) && f.ActiveAt(t) {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Freeze) int {
		switch {
		case a.To.Equal(b.To):
			return strings.Compare(a.ID, b.ID)
		case a.To.IsZero():
			return -1
		case b.To.IsZero():
			return 1
		}
		return b.To.Compare(a.To)
	})
	return out
}

// Restored tells a Freezes run that it was started from the state of a
// run that closed (cancelled, terminated, failed) instead of continuing as
// new. The run records it in the audit log.
type Restored struct {
	// RunID is the closed run; Status says how it closed, at ClosedAt.
	RunID    string    `json:"run-id"`
	Status   string    `json:"status"`
	ClosedAt time.Time `json:"closed-at,omitempty"`
	// Empty says the closed run's state could not be read back and Actor
	// chose to start without it, for Reason.
	Empty bool `json:"empty,omitempty"`
	// Actor asked for the restart (a freeze command's --as).
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// CreateInput is the freeze-create Update's argument.
type CreateInput struct {
	Services     []string  `json:"services,omitempty"`
	Environments []string  `json:"environments,omitempty"`
	From         time.Time `json:"from,omitempty"` // zero: now
	To           time.Time `json:"to,omitempty"`   // zero: until lifted
	Reason       string    `json:"reason"`
	Actor        string    `json:"actor"`
	// Once, when set, makes the create idempotent: while a freeze declared
	// with the same Once has not ended, the create returns it (Repeat set)
	// and declares nothing. Two workers whose circuit breakers trip in the
	// same instant thus declare one freeze: the Freezes workflow runs its
	// Updates one at a time.
	Once string `json:"once,omitempty"`
	// Proof signs the freeze (workflows.FreezeCreateClaim): required when
	// the worker has trust roots, always verified when present.
	Proof *identity.Proof `json:"proof,omitempty"`
}

// LiftInput is the freeze-lift Update's argument.
type LiftInput struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	// Proof signs the lift (workflows.FreezeLiftClaim), as for CreateInput.
	Proof *identity.Proof `json:"proof,omitempty"`
}

// Activities reads the freezes through the Temporal client.
type Activities struct {
	Client client.Client
}

// ListFreezesInput is empty: every environment reads the whole list and
// filters it in the workflow, against workflow time.
type ListFreezesInput struct{}

// ListFreezesResult is every freeze the Freezes workflow keeps.
type ListFreezesResult struct {
	Freezes []Freeze `json:"freezes"`
}

// ListFreezes queries the Freezes workflow. No workflow means nobody has
// ever created a freeze: that is an empty list, not an error.
func (a *Activities) ListFreezes(ctx context.Context, _ ListFreezesInput) (ListFreezesResult, error) {
	fs, err := List(ctx, a.Client)
	return ListFreezesResult{Freezes: fs}, err
}

// List queries the Freezes workflow for every freeze it keeps. Its latest
// run answers even when it has closed (cancelled, terminated): a worker
// replays it, so its freezes keep holding releases until a new run takes
// over with them.
func List(ctx context.Context, c client.Client) ([]Freeze, error) {
	if c == nil {
		return nil, errors.New("freezes: no Temporal client configured on this worker")
	}
	v, err := queryList(ctx, c)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the freezes (workflow %s): %w%s", WorkflowID, err, closedHint(ctx, c))
	}
	var fs []Freeze
	if err := v.Get(&fs); err != nil {
		return nil, fmt.Errorf("decode the freezes: %w", err)
	}
	return fs, nil
}

// queryAttempts bounds the tries of one read: the query of a closed run is
// answered by a worker replaying it, which a busy worker may not do within
// one query's deadline.
const queryAttempts = 3

// queryList queries the freezes, trying again when the query timed out or
// found no worker in time (the read changes nothing, so it is safe to
// repeat).
func queryList(ctx context.Context, c client.Client) (converter.EncodedValue, error) {
	var err error
	for attempt := 1; attempt <= queryAttempts; attempt++ {
		var v converter.EncodedValue
		if v, err = c.QueryWorkflow(ctx, WorkflowID, "", QueryList); err == nil || ctx.Err() != nil || !transientQuery(err) {
			return v, err
		}
	}
	return nil, err
}

// transientQuery reports a query that timed out or was cut, as opposed to
// one refused (no workflow, a failed workflow task).
func transientQuery(err error) bool {
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unavailable:
		return true
	}
	var dl *serviceerror.DeadlineExceeded
	var cn *serviceerror.Canceled
	var un *serviceerror.Unavailable
	return errors.As(err, &dl) || errors.As(err, &cn) || errors.As(err, &un)
}

// closedHint says what to do when the freezes could not be read because the
// Freezes workflow's run closed and cannot be replayed; "" otherwise.
func closedHint(ctx context.Context, c client.Client) string {
	d, err := c.DescribeWorkflow(ctx, WorkflowID, "")
	if err != nil || d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return ""
	}
	return fmt.Sprintf("; its latest run is %s: `runbook freeze restore` starts a new run with its freezes, "+
		"or says what to do when they cannot be read back", RunStatus(d.RawResponse.GetWorkflowExecutionInfo().GetStatus()))
}

// RunStatus names how a run ended, in the words of the rest of runbook:
// "cancelled", "terminated", "timed out"...
func RunStatus(st enumspb.WorkflowExecutionStatus) string {
	switch st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "cancelled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued as new"
	}
	return strings.ToLower(strings.TrimPrefix(st.String(), "WORKFLOW_EXECUTION_STATUS_"))
}
