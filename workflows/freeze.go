package workflows

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
)

// Limits that keep the Freezes workflow's state and history bounded: it
// lives for years.
const (
	// keepEndedFreezes is how many ended freezes stay listed as a record.
	keepEndedFreezes = 100
)

// A run continues as new past freezeHistoryLimit events, well before
// Temporal would warn, or after freezeRequestLimit creates, lifts and
// watches (a bound the test environment can count too). Variables so a
// test can reach them quickly.
var (
	freezeHistoryLimit = 2000
	freezeRequestLimit = 500
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// FreezesInput is the state a Freezes run starts from: empty the first
// time, the previous run's state after a continue-as-new.
type FreezesInput struct {
	Freezes  []freezes.Freeze     `json:"freezes,omitempty"`
	Watchers []workflow.Execution `json:"watchers,omitempty"`
	// Next numbers freezes: IDs stay unique across runs.
	Next int `json:"next,omitempty"`
}

// board is the state of one Freezes run.
type board struct {
	FreezesInput
	// requests counts the creates, lifts and watches this run handled.
	requests int
}

// Freezes is the long-lived workflow (ID freezes.WorkflowID) that keeps the
// organisation's change freezes. People create and lift freezes through
// Updates, so a refused request leaves no trace; environments read them
// before each step and, while held, register to be woken on every change.
// The Web UI shows the active freezes as the workflow's current details.
func Freezes(ctx workflow.Context, in FreezesInput) error {
	b := &board{FreezesInput: in}
	if err := b.register(ctx); err != nil {
		return err
	}
	b.publish(ctx)
	watch := workflow.GetSignalChannel(ctx, freezes.SignalWatch)
	for {
		_ = workflow.Await(ctx, func() bool { return watch.Len() > 0 || b.rotate(ctx) })
		var w workflow.Execution
		for watch.ReceiveAsync(&w) {
			b.addWatcher(w)
		}
		if b.rotate(ctx) {
			_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
			for watch.ReceiveAsync(&w) {
				b.addWatcher(w)
			}
			return workflow.NewContinueAsNewError(ctx, Freezes, b.snapshot(workflow.Now(ctx)))
		}
	}
}

// rotate reports whether the run's history is long enough to start afresh.
func (b *board) rotate(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > freezeHistoryLimit ||
		b.requests >= freezeRequestLimit
}

func (b *board) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, freezes.QueryList, func() ([]freezes.Freeze, error) {
		return b.Freezes, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, freezes.UpdateCreate, b.create,
		workflow.UpdateHandlerOptions{Validator: b.validateCreate}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, freezes.UpdateLift, b.lift,
		workflow.UpdateHandlerOptions{Validator: b.validateLift})
}

// validateCreate refuses a freeze before anything is written to history.
func (b *board) validateCreate(ctx workflow.Context, in freezes.CreateInput) error {
	now := workflow.Now(ctx)
	switch {
	case strings.TrimSpace(in.Actor) == "":
		return fmt.Errorf("say who creates the freeze: pass --as NAME")
	case strings.TrimSpace(in.Reason) == "":
		return fmt.Errorf("a freeze needs a reason: pass --reason, e.g. \"financial close\"")
	case !in.To.IsZero() && !in.To.After(now):
		return fmt.Errorf("the freeze would end at %s, which has passed; give a later --to", in.To.UTC().Format(time.RFC3339))
	case !in.To.IsZero() && !in.From.IsZero() && !in.To.After(in.From):
		return fmt.Errorf("the freeze ends (%s) before it starts (%s); --to must be after --from",
			in.To.UTC().Format(time.RFC3339), in.From.UTC().Format(time.RFC3339))
	}
	for _, names := range [][]string{in.Services, in.Environments} {
		for _, n := range names {
			if !nameRE.MatchString(n) {
				return fmt.Errorf("%q is not a service or environment name (lower case letters, digits and dashes)", n)
			}
		}
	}
	return nil
}

// create adds a freeze, records it in the audit log and wakes the watchers.
func (b *board) create(ctx workflow.Context, in freezes.CreateInput) (freezes.Freeze, error) {
	now := workflow.Now(ctx)
	b.requests++
	b.Next++
	f := freezes.Freeze{
		ID: fmt.Sprintf("freeze-%d", b.Next), Services: in.Services, Environments: in.Environments,
		From: in.From, To: in.To, Reason: in.Reason, CreatedBy: in.Actor, CreatedAt: now,
	}
	if f.From.IsZero() || f.From.Before(now) {
		f.From = now
	}
	b.Freezes = append(b.Freezes, f)
	b.publish(ctx)
	b.audit(ctx, f, "freeze.created", in.Actor, fmt.Sprintf("%s from %s %s: %s",
		f.Scope(), f.From.UTC().Format(time.RFC3339), f.Until(), f.Reason))
	b.notify(ctx)
	return f, nil
}

// validateLift refuses to lift a freeze that is unknown or already ended.
func (b *board) validateLift(ctx workflow.Context, in freezes.LiftInput) error {
	if strings.TrimSpace(in.Actor) == "" {
		return fmt.Errorf("say who lifts the freeze: pass --as NAME")
	}
	if strings.TrimSpace(in.Reason) == "" {
		return fmt.Errorf("lifting a freeze needs a reason: pass --reason")
	}
	i := b.find(in.ID)
	if i < 0 {
		return fmt.Errorf("no freeze %q; see runbook freeze list", in.ID)
	}
	if f := b.Freezes[i]; f.Ended(workflow.Now(ctx)) {
		return fmt.Errorf("freeze %s already ended; nothing to lift", f.ID)
	}
	return nil
}

// lift ends a freeze now and wakes the releases it held.
func (b *board) lift(ctx workflow.Context, in freezes.LiftInput) (freezes.Freeze, error) {
	b.requests++
	f := &b.Freezes[b.find(in.ID)]
	f.LiftedBy, f.LiftedAt, f.LiftReason = in.Actor, workflow.Now(ctx), in.Reason
	b.publish(ctx)
	b.audit(ctx, *f, "freeze.lifted", in.Actor, in.Reason)
	b.notify(ctx)
	return *f, nil
}

func (b *board) find(id string) int {
	return slices.IndexFunc(b.Freezes, func(f freezes.Freeze) bool { return f.ID == id })
}

func (b *board) addWatcher(w workflow.Execution) {
	b.requests++
	if !slices.Contains(b.Watchers, w) {
		b.Watchers = append(b.Watchers, w)
	}
}

// notify signals every watcher that the freezes changed and forgets them:
// an environment still held registers again. A watcher that has closed
// makes its signal fail, which is fine.
func (b *board) notify(ctx workflow.Context) {
	ws := b.Watchers
	b.Watchers = nil
	var fs []workflow.Future
	for _, w := range ws {
		fs = append(fs, workflow.SignalExternalWorkflow(ctx, w.ID, w.RunID, freezes.SignalChanged, nil))
	}
	for _, f := range fs {
		_ = f.Get(ctx, nil)
	}
}

// audit records a freeze's creation or lift. The ID is the freeze's, so a
// retried write is stored once, also across runs.
func (b *board) audit(ctx workflow.Context, f freezes.Freeze, action, actor, detail string) {
	outcome := "frozen"
	if !f.LiftedAt.IsZero() {
		outcome = "lifted"
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID:      freezes.WorkflowID + "/" + f.ID + "/" + action,
		Time:    workflow.Now(ctx).UTC(),
		Actor:   actor,
		Action:  action,
		Step:    f.ID,
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
	return FreezesInput{Freezes: append(ended, active...), Watchers: b.Watchers, Next: b.Next}
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
			state = "lifted by " + f.LiftedBy + ": " + f.LiftReason
		case f.Ended(now):
			state = "ended"
		case now.Before(f.From):
			state = "scheduled"
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s |\n", f.ID, f.Scope(),
			f.From.UTC().Format(time.RFC3339), strings.TrimPrefix(f.Until(), "until "), f.CreatedBy,
			strings.ReplaceAll(f.Reason, "|", "/"), strings.ReplaceAll(state, "|", "/"))
	}
	workflow.SetCurrentDetails(ctx, s.String())
}
