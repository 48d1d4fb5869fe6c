package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
)

// newID names a new freeze. Since freezeIDChange the name comes from the
// Update's ID (unique per request, chosen by the client, recorded in
// history), so it does not depend on the run: a run started afresh never
// hands out an ID an earlier run used, and the freeze's audit records
// (keyed by its ID) are never mistaken for an earlier freeze's.
func (b *board) newID(ctx workflow.Context, now time.Time) string {
	if workflow.GetVersion(ctx, freezeIDChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		b.Next++
		return fmt.Sprintf("freeze-%d", b.Next)
	}
	seed := workflow.GetCurrentUpdateInfo(ctx).ID
	if seed == "" { // not from a server; keep it deterministic anyway
		seed = workflow.GetInfo(ctx).WorkflowExecution.RunID + "/" + strconv.Itoa(b.requests)
	}
	return freezeID(now, seed, func(id string) bool { return b.find(id) >= 0 })
}

// freezeID is "freeze-YYYYMMDD-xxxxxx": the UTC day of creation, short to
// type, and six hex digits of the SHA-256 of seed, lengthened while taken
// says the ID is in use.
func freezeID(now time.Time, seed string, taken func(string) bool) string {
	sum := sha256.Sum256([]byte(seed))
	digits := hex.EncodeToString(sum[:])
	prefix := "freeze-" + now.UTC().Format("20060102") + "-"
	n := 6
	for ; n < len(digits) && taken(prefix+digits[:n]); n += 2 {
	}
	return prefix + digits[:n]
}

// recordRestore audits, once, that this run carries the state of a closed
// run (or, by an operator's choice, could not). Only a run started with
// Restored set does this; no run started before the field existed has it,
// so their replay is unchanged.
func (b *board) recordRestore(ctx workflow.Context) {
	r := b.Restored
	if r == nil {
		return
	}
	b.Restored = nil
	closed := fmt.Sprintf("run %s, %s at %s", r.RunID, r.Status, r.ClosedAt.UTC().Format(time.RFC3339))
	action, outcome := "freezes.restored", "restored"
	active := 0
	for _, f := range b.Freezes {
		if !f.Ended(workflow.Now(ctx)) {
			active++
		}
	}
	detail := fmt.Sprintf("started with the %d freezes (%d active) of %s", len(b.Freezes), active, closed)
	if r.Empty {
		action, outcome = "freezes.reset", "empty"
		detail = fmt.Sprintf("started empty: the freezes of %s could not be read back; %s", closed, r.Reason)
	}
	actor := r.Actor
	if actor == "" {
		actor = "runbook"
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	appendAudit(dctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID:      freezes.WorkflowID + "/" + r.RunID + "/" + action,
		Time:    workflow.Now(ctx).UTC(),
		Actor:   actor,
		Action:  action,
		Outcome: outcome,
		Detail:  detail,
	}}, nil)
}

// snapshot is the state the next run starts from, without ended freezes
// beyond the most recent keepEndedFreezes.
func (b *board) snapshot(now time.Time) FreezesInput {
	var active, ended []freezes.Freeze
	for _, f := range b.Freezes {
		if f.Ended(now) {
			ended = append(ended, f)
		} else {
			active = append(active, f)
		}
	}
	if len(ended) > keepEndedFreezes {
		ended = ended[len(ended)-keepEndedFreezes:]
	}
	return FreezesInput{Freezes: append(ended, active...), Watchers: b.Watchers, Next: b.Next, Spent: freshNonces(b.Spent, now)}
}

// publish shows the freezes in the Web UI.
func (b *board) publish(ctx workflow.Context) {
	now := workflow.Now(ctx)
	var s strings.Builder
	s.WriteString("**Change freezes**\n\n| id | scope | from | until | by | reason | state |\n|---|---|---|---|---|---|---|\n")
	for i := len(b.Freezes) - 1; i >= 0; i-- {
		f := b.Freezes[i]
		state := "active"
		switch {
		case !f.LiftedAt.IsZero():
			state = "lifted by " + f.LiftedByNote() + ": " + f.LiftReason
		case f.Ended(now):
			state = "ended"
		case now.Before(f.From):
			state = "scheduled"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s |\n", f.ID, f.Scope(),
			f.From.UTC().Format(time.RFC3339), strings.TrimPrefix(f.Until(), "until "), f.By(),
			strings.ReplaceAll(f.Reason, "|", "/"), strings.ReplaceAll(state, "|", "/"))
	}
	s.WriteString("\n" + b.trustNote() + "\n")
	workflow.SetCurrentDetails(ctx, s.String())
}
