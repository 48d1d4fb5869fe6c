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
	"github.com/runbookhq/runbook/internal/identity"
)

// Limits that keep the Freezes workflow's state and history bounded: it
// lives for years.
const (
	// keepEndedFreezes is how many ended freezes stay listed as a record.
	keepEndedFreezes = 100
)

// Changes to the commands the Freezes workflow emits, so that runs started
// before each replays unchanged.
const (
	// freezesCancelChange ends the run when it is cancelled. Before it, the
	// main loop ignored the cancelled Await and spun until the deadlock
	// detector failed every workflow task.
	freezesCancelChange = "freezes-cancel"
	// freezeIDChange names freezes after their Update instead of the run's
	// counter, which restarted at freeze-1 when a run restarted empty.
	freezeIDChange = "freeze-id-from-update"
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
// time, the previous run's state after a continue-as-new, or the state a
// starter read back from a run that closed (Restored set).
type FreezesInput struct {
	Freezes  []freezes.Freeze     `json:"freezes,omitempty"`
	Watchers []workflow.Execution `json:"watchers,omitempty"`
	// Next numbered freezes before IDs came from Updates; runs started
	// before that still use it.
	Next int `json:"next,omitempty"`
	// Restored is set when a starter carried the state over from a closed
	// run; the new run audits it once and does not carry it further.
	Restored *freezes.Restored `json:"restored,omitempty"`
	// Spent are the nonces of the signed decisions of the last
	// identity.MaxAge+MaxSkew, so a signed create or lift is not accepted
	// again by the next run.
	Spent []SpentNonce `json:"spent,omitempty"`
}

// board is the state of one Freezes run.
type board struct {
	FreezesInput
	// requests counts the creates, lifts and watches this run handled.
	requests int
	// endOnCancel caches the freezesCancelChange version once read.
	endOnCancel *bool
	// sig verifies who creates and lifts freezes (signedFreezesChange).
	sig freezeSigning
}

// Freezes is the long-lived workflow (ID freezes.WorkflowID) that keeps the
// organisation's change freezes. People create and lift freezes through
// Updates, so a refused request leaves no trace; environments read them
// before each step and, while held, register to be woken on every change.
// The Web UI shows the active freezes as the workflow's current details.
// Cancelling it ends the run; its freezes stay readable from the closed run
// and the next freeze command starts a new run with them.
func Freezes(ctx workflow.Context, in FreezesInput) error {
	b := &board{FreezesInput: in}
	b.startSigning(ctx)
	if err := b.register(ctx); err != nil {
		return err
	}
	b.publish(ctx)
	b.recordRestore(ctx)
	watch := workflow.GetSignalChannel(ctx, freezes.SignalWatch)
	for {
		err := workflow.Await(ctx, func() bool { return watch.Len() > 0 || b.rotate(ctx) })
		if err != nil && b.honoursCancel(ctx) {
			return b.cancelled(ctx, err)
		}
		var w workflow.Execution
		for watch.ReceiveAsync(&w) {
			b.addWatcher(w)
		}
		if b.rotate(ctx) {
			err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
			if err != nil && b.honoursCancel(ctx) {
				return b.cancelled(ctx, err)
			}
			for watch.ReceiveAsync(&w) {
				b.addWatcher(w)
			}
			return workflow.NewContinueAsNewError(ctx, Freezes, b.snapshot(workflow.Now(ctx)))
		}
	}
}

// honoursCancel reports whether this run ends when cancelled. Runs whose
// history predates freezesCancelChange keep the old behaviour on replay
// (they could only have recorded a cancellation on the way to a
// continue-as-new).
func (b *board) honoursCancel(ctx workflow.Context) bool {
	if b.endOnCancel == nil {
		v := workflow.GetVersion(ctx, freezesCancelChange, workflow.DefaultVersion, 1) != workflow.DefaultVersion
		b.endOnCancel = &v
	}
	return *b.endOnCancel
}

// cancelled ends a cancelled run once the Updates it accepted have
// finished, so a freeze it created is also in the audit log.
func (b *board) cancelled(ctx workflow.Context, err error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	workflow.GetLogger(ctx).Info("Freezes workflow cancelled; the next freeze command starts a new run with its freezes",
		"freezes", len(b.Freezes))
	return err
}

// rotate reports whether the run's history is long enough to start afresh.
func (b *board) rotate(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > freezeHistoryLimit ||
		b.requests >= freezeRequestLimit || b.sig.upgrading
}

func (b *board) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, freezes.QueryList, func() ([]freezes.Freeze, error) {
		return b.Freezes, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, freezes.QueryState, func() (FreezesInput, error) {
		return FreezesInput{Freezes: b.Freezes, Watchers: b.Watchers, Next: b.Next, Spent: b.Spent}, nil
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
	case in.Proof == nil && strings.TrimSpace(in.Actor) == "":
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
	_, err := b.decider(ctx, in.Proof, FreezeCreateClaim(in), in.Actor)
	return err
}

// create adds a freeze, records it in the audit log and wakes the watchers.
func (b *board) create(ctx workflow.Context, in freezes.CreateInput) (freezes.Freeze, error) {
	b.requests++
	id, err := b.decide(ctx, in.Proof, FreezeCreateClaim(in), in.Actor)
	if err != nil {
		return freezes.Freeze{}, err
	}
	now := workflow.Now(ctx)
	if f, ok := b.holding(in.Once, now); ok {
		f.Repeat = true
		return f, nil
	}
	f := freezes.Freeze{
		ID: b.newID(ctx, now), Services: in.Services, Environments: in.Environments,
		From: in.From, To: in.To, Reason: in.Reason, CreatedBy: id.Name, CreatedAt: now,
		CreatedIdentity: auditIdentity(id), Once: in.Once,
	}
	if f.From.IsZero() || f.From.Before(now) {
		f.From = now
	}
	b.Freezes = append(b.Freezes, f)
	b.publish(ctx)
	b.audit(ctx, f, "freeze.created", id, fmt.Sprintf("%s from %s %s: %s",
		f.Scope(), f.From.UTC().Format(time.RFC3339), f.Until(), f.Reason))
	b.notify(ctx)
	return f, nil
}

// holding returns the freeze declared with once that has not ended; none
// for an empty once (every create without it declares a freeze, as before
// Once existed, so older histories replay unchanged).
func (b *board) holding(once string, now time.Time) (freezes.Freeze, bool) {
	if once == "" {
		return freezes.Freeze{}, false
	}
	for _, f := range b.Freezes {
		if f.Once == once && !f.Ended(now) {
			return f, true
		}
	}
	return freezes.Freeze{}, false
}

// validateLift refuses to lift a freeze that is unknown or already ended.
func (b *board) validateLift(ctx workflow.Context, in freezes.LiftInput) error {
	if in.Proof == nil && strings.TrimSpace(in.Actor) == "" {
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
	_, err := b.decider(ctx, in.Proof, FreezeLiftClaim(in), in.Actor)
	return err
}

// lift ends a freeze now and wakes the releases it held.
func (b *board) lift(ctx workflow.Context, in freezes.LiftInput) (freezes.Freeze, error) {
	b.requests++
	id, err := b.decide(ctx, in.Proof, FreezeLiftClaim(in), in.Actor)
	if err != nil {
		return freezes.Freeze{}, err
	}
	i := b.find(in.ID)
	if b.sig.on && (i < 0 || b.Freezes[i].Ended(workflow.Now(ctx))) {
		// The handler may have waited for the trust roots, and another
		// lift may have come first. (Runs from before signed freezes
		// never wait, and keep their old commands on replay.)
		return freezes.Freeze{}, fmt.Errorf("freeze %s already ended; nothing to lift", in.ID)
	}
	f := &b.Freezes[i]
	f.LiftedBy, f.LiftedAt, f.LiftReason, f.LiftedIdentity = id.Name, workflow.Now(ctx), in.Reason, auditIdentity(id)
	b.publish(ctx)
	b.audit(ctx, *f, "freeze.lifted", id, in.Reason)
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
func (b *board) audit(ctx workflow.Context, f freezes.Freeze, action string, actor identity.Identity, detail string) {
	outcome := "frozen"
	if !f.LiftedAt.IsZero() {
		outcome = "lifted"
	}
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	appendAudit(ctx, audit.AppendAuditInput{Entry: audit.Entry{
		ID:       freezes.WorkflowID + "/" + f.ID + "/" + action,
		Time:     workflow.Now(ctx).UTC(),
		Actor:    actor.Name,
		Action:   action,
		Step:     f.ID,
		Outcome:  outcome,
		Detail:   detail,
		Identity: auditIdentity(actor),
	}}, nil)
}
