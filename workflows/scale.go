package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/trust"
	"github.com/runbookhq/runbook/internal/identity"
)

// leanChange versions what the scale benchmark (test/bench_scale_test.go)
// found each release costing beyond its shape. Runs started with it:
//   - ask no other version: every change before it is on (changed). Each
//     GetVersion of a new run records a marker and upserts the
//     TemporalChangeVersion search attribute, a visibility write: an
//     environment asked six, a release three;
//   - write their search attributes in one upsert per refresh instead of
//     one per attribute;
//   - read the worker's trust roots through a local activity instead of
//     an activity (no activity task, and no workflow task for its result,
//     at the start and at every gate);
//   - send the release no progress snapshot of their final state, which
//     the release takes from the environment's result.
//
// Version 2 adds: an approval that opens its gate sends the release no
// snapshot of its own; the step's end, a moment later in the same workflow
// task, sends the phase after it.
//
// Version 3 adds (each a visibility write or a signal the release's shape
// does not need; nothing people see changes):
//   - an environment sends no snapshot as it starts: its phase then,
//     running, is the one the release gave it when it started the child;
//   - an approval step writes its search attributes once, as its gate
//     opens a moment later in the same workflow task, not also as it starts;
//   - a release writes none as it starts: the first environment's start,
//     in the same workflow task, writes them all in one upsert.
//
// Version 4 adds:
//   - a signed decision re-reads the trust roots as it arrives and is
//     verified again when they changed: a key, Slack mapping or group
//     membership removed while the gate waited no longer decides it (before,
//     the roots read as the gate opened held for its whole wait). A gate
//     re-reads them as it opens only when the last read is older than
//     rootsFresh, so the builtin steps just before it cost no second read;
//   - an environment sends no snapshot as it finishes (its result, a moment
//     later, carries the final status);
//   - a release writes no search attributes as its last environment ends:
//     its final refresh follows in the same workflow task.
//
// Version 5 adds: an environment writes adjacent audit records with one
// local activity (one marker, one fsync): a step's success goes with the
// next gate's opening or the environment's end, the environment's start
// with its requester's record. A held record is written before anything
// acts on a system (the next step, a Slack post, a rollback) and before a
// pause waits.
//
// Version 6 adds: what follows a person's decision waits until the Update
// handler that took it has written its record (settle): a migration's retry
// or force, what a gate inside a step lets happen (a destructive plan's
// apply, a contract migration), a canary's promote, the step after a
// resume. Before, the action could be scheduled in the workflow task whose
// local activity wrote the record; an audit store slower than a workflow
// task's heartbeat (or down) let the action start first.
const leanChange = "lean-release"

// leanVersion is this run's version of leanChange. Each workflow asks it
// first, before any other version: a run started before it replays with
// DefaultVersion here and then asks the others as it did.
func leanVersion(ctx workflow.Context) workflow.Version {
	return workflow.GetVersion(ctx, leanChange, workflow.DefaultVersion, LeanMax)
}

// LeanMax is the newest version of leanChange this code knows. Clients
// that start releases pass it in ReleaseInput.Lean.
const LeanMax = 6

// givenLeanVersion is a run's version of leanChange when its starter gave
// one (ReleaseInput.Lean from the client, EnvironmentInput.Lean from the
// release; version 3 on): asked, a new run's version is a marker and a
// TemporalChangeVersion upsert, a visibility write, for nothing. The
// answer stays the same on every worker that replays the run:
//   - not given (or older than 3): asked, as before;
//   - given and known: taken, nothing recorded;
//   - given but newer than this worker knows: asked, which records the
//     newest this worker knows, so a newer worker replays it as it ran;
//   - a run a worker from before the input field began asked anyway and
//     recorded its answer: replay takes the recorded version (asking
//     during replay records nothing).
func givenLeanVersion(ctx workflow.Context, given int) workflow.Version {
	if given < 3 {
		return leanVersion(ctx)
	}
	if workflow.IsReplaying(ctx) {
		if v := leanVersion(ctx); v != workflow.DefaultVersion {
			return v
		}
	}
	if given > LeanMax {
		if workflow.IsReplaying(ctx) {
			// Not recorded, so a worker that knew it ran it.
			panic(fmt.Sprintf("%s version %d was not recorded and this worker knows up to %d: replay it on a newer worker", leanChange, given, LeanMax))
		}
		return leanVersion(ctx)
	}
	return workflow.Version(given)
}

// changed reports whether the run takes change, a change older than
// leanChange (version 1 of it on, DefaultVersion off): always for lean
// runs, without a marker; else as GetVersion says.
func changed(ctx workflow.Context, lean bool, change string) bool {
	return lean || workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) >= 1
}

// opensGateStep reports whether g is approved and is the gate of an
// approval step of the plan: its step ends as soon as the handler returns
// and publishes then (runStep), so the approval need not publish too.
func (e *environment) opensGateStep(g *GateStatus) bool {
	if g.State != StateApproved {
		return false
	}
	for i := range e.status.Steps {
		if e.status.Steps[i].Gate == g {
			return i < len(e.plan) && e.plan[i].gate != nil
		}
	}
	return false
}

// attr is a keyword search attribute and the value it should have.
type attr struct {
	key   temporal.SearchAttributeKeyKeyword
	value string
}

// upsertAll writes the attributes whose value changed: in one upsert when
// batched (leanChange), else one upsert each, as runs started before it did.
func upsertAll(ctx workflow.Context, batched bool, attrs ...attr) {
	if !batched {
		for _, a := range attrs {
			upsertChanged(ctx, a.key, a.value)
		}
		return
	}
	var us []temporal.SearchAttributeUpdate
	for _, a := range attrs {
		if u, ok := attrUpdate(ctx, a.key, a.value); ok {
			us = append(us, u)
		}
	}
	if len(us) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, us...); err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}

// attrUpdate is the update that gives key value, false when it has it.
func attrUpdate(ctx workflow.Context, key temporal.SearchAttributeKeyKeyword, value string) (temporal.SearchAttributeUpdate, bool) {
	cur, present := workflow.GetTypedSearchAttributes(ctx).GetKeyword(key)
	if (present && cur == value) || (!present && value == "") {
		return nil, false
	}
	if value == "" {
		return key.ValueUnset(), true
	}
	return key.ValueSet(value), true
}

// readRoots runs LoadTrustRoots: as a local activity for lean runs (it
// reads files and, with OIDC, a JWKS: work for the worker itself, bounded
// like the freeze reads), else as the activity runs before leanChange
// scheduled.
func (e *environment) readRoots(ctx workflow.Context, in trust.LoadInput) (identity.Roots, error) {
	var roots identity.Roots
	if !e.lean {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
			Summary:             "load trust roots",
		})
		err := workflow.ExecuteActivity(actx, trustActs.LoadTrustRoots, in).Get(ctx, &roots)
		return roots, err
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Second, MaximumAttempts: 3},
		Summary:                "load trust roots",
	})
	err := workflow.ExecuteLocalActivity(lctx, trustActs.LoadTrustRoots, in).Get(lctx, &roots)
	return roots, err
}
