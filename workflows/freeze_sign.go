package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/activities/trust"
	"github.com/runbookhq/runbook/internal/identity"
)

// signedFreezesChange versions signed freezes: runs started with it load
// the worker's trust roots, keep them fresh on a timer, and verify who
// creates and lifts each freeze. Runs started before it take names as given
// until they continue as new.
const signedFreezesChange = "signed-freezes"

// signedFreezesUpgradeChange (suffixed with the run's request number) ends
// a run started before signedFreezesChange at its first request after the
// upgrade: the request is refused (the client sends it again) and the run
// continues as new, so the new run verifies it. No decision is taken on a
// name alone once the worker can verify signatures.
const signedFreezesUpgradeChange = "signed-freezes-upgrade"

// ErrTypeFreezesUpgrading refuses a freeze request to a run from before
// signed freezes that is about to continue as new; the client retries.
const ErrTypeFreezesUpgrading = "FreezesUpgrading"

// trustReloadEvery is how often a Freezes run reloads the trust roots: the
// bound on how long a removed key can still freeze or lift. Validators
// cannot run activities, so the roots must be in the run before a request
// needs them. Each reload adds about ten events (timer, activity, tasks;
// unchanged roots come back as their digest alone), roughly 2,900 a day,
// so a quiet run continues as new (freezeHistoryLimit) about twice a day
// and loads the full roots once per run. A variable so tests can change it.
var trustReloadEvery = 5 * time.Minute

// nonceMemory is how long a spent nonce is remembered: a statement older
// than identity.MaxAge is refused as stale anyway, and one dated up to
// MaxSkew ahead is fresh for that much longer.
const nonceMemory = identity.MaxAge + identity.MaxSkew

// SpentNonce is the nonce of a signed freeze decision already used, with
// the time of its statement, so a run forgets it once the statement would
// be refused as stale anyway.
type SpentNonce struct {
	Nonce string    `json:"nonce"`
	At    time.Time `json:"at"`
}

// freezeSigning is the Freezes run's side of signed decisions.
type freezeSigning struct {
	// on is set for runs started with signedFreezesChange.
	on bool
	// upgrading is set in a run from before it once a request arrived
	// after the upgrade (signedFreezesUpgradeChange): it continues as new.
	upgrading bool
	// loaded is set once the first load of the roots finished; loadErr is
	// that load's error when it failed (requests are then refused).
	loaded   bool
	loadErr  error
	roots    identity.Roots
	verifier *identity.Verifier
}

// FreezeCreateClaim is what creating a freeze signs: the Freezes workflow
// (no run: it continues as new, and the nonce and freshness bound the
// statement), the freeze's scope and window, and its reason. The CLI signs
// the same claim.
func FreezeCreateClaim(in freezes.CreateInput) identity.Claim {
	return identity.Claim{Action: identity.ActionFreezeCreate, Workflow: freezes.WorkflowID,
		Detail: freezeWindow(in), Comment: in.Reason}
}

// FreezeLiftClaim is what lifting a freeze signs: the freeze and the reason.
func FreezeLiftClaim(in freezes.LiftInput) identity.Claim {
	return identity.Claim{Action: identity.ActionFreezeLift, Workflow: freezes.WorkflowID,
		Target: in.ID, Comment: in.Reason}
}

// freezeWindow is the canonical text of a freeze's scope and window, e.g.
// "services=checkout environments=production from=now to=2027-01-04T00:00:00Z":
// names sorted, times in RFC 3339 UTC (with any fraction of a second), so a
// signature covers exactly this freeze and no other.
func freezeWindow(in freezes.CreateInput) string {
	at := func(t time.Time, zero string) string {
		if t.IsZero() {
			return zero
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	sorted := func(names []string) string {
		s := slices.Clone(names)
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	return fmt.Sprintf("services=%s environments=%s from=%s to=%s", sorted(in.Services), sorted(in.Environments),
		at(in.From, "now"), at(in.To, "lifted"))
}

// startSigning reads the signedFreezesChange version and, for runs started
// with it, loads the trust roots and keeps them fresh in the background.
func (b *board) startSigning(ctx workflow.Context) {
	b.sig.on = workflow.GetVersion(ctx, signedFreezesChange, workflow.DefaultVersion, 1) >= 1
	if !b.sig.on {
		return
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		b.sig.loadErr = b.loadRoots(ctx)
		b.sig.loaded = true
		b.publish(ctx)
		for workflow.Sleep(ctx, trustReloadEvery) == nil {
			if err := b.loadRoots(ctx); err != nil {
				// The roots loaded before stay: a bad edit of the
				// allowed signers does not open the freezes to anyone.
				workflow.GetLogger(ctx).Error("reloading the trust roots failed; the freezes keep the roots loaded before", "error", err)
				continue
			}
			b.sig.loadErr = nil
		}
	})
}

// loadRoots reads the worker's trust roots through the LoadTrustRoots
// activity. Unchanged roots come back as their digest alone, so a reload
// adds little to history.
func (b *board) loadRoots(ctx workflow.Context) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "load trust roots",
	})
	var roots identity.Roots
	in := trust.LoadInput{Known: b.sig.roots.Digest}
	if err := workflow.ExecuteActivity(actx, trustActs.LoadTrustRoots, in).Get(ctx, &roots); err != nil {
		return err
	}
	if roots.Unchanged && roots.Digest == b.sig.roots.Digest {
		return nil
	}
	roots, v, err := identity.Intern(roots)
	if err != nil {
		return err
	}
	b.sig.roots, b.sig.verifier = roots, v
	return nil
}

// decider verifies who creates or lifts a freeze, at workflow time. It is
// pure computation, so validators call it; a refused request leaves no
// trace. name is the name the client gave, taken as given only when the
// worker has no trust roots.
func (b *board) decider(ctx workflow.Context, p *identity.Proof, c identity.Claim, name string) (identity.Identity, error) {
	if b.sig.upgrading {
		return identity.Identity{}, errUpgrading()
	}
	if !b.sig.on {
		return identity.Identity{Name: name}, nil
	}
	if !b.sig.loaded {
		// An Update sent with the start of the run arrives before the
		// first load: its handler waits for the roots and verifies then.
		return identity.Identity{}, nil
	}
	if b.sig.verifier == nil {
		return identity.Identity{}, fmt.Errorf("the worker's trust roots did not load (%v), so no freeze can be created or lifted "+
			"until they do: fix the trust-root files of the worker (RUNBOOK_ALLOWED_SIGNERS, RUNBOOK_GROUPS_FILE, RUNBOOK_OIDC_*); "+
			"it reloads them every %s", b.sig.loadErr, trustReloadEvery)
	}
	if p == nil {
		if b.sig.roots.Configured() {
			return identity.Identity{}, fmt.Errorf("freezes must be signed: the worker verifies decisions (%s); %s",
				strings.Join(b.sig.roots.Methods(), ", "), howToSign(""))
		}
		if strings.TrimSpace(name) == "" {
			return identity.Identity{}, fmt.Errorf("say who decides: pass --as NAME")
		}
		return identity.Unsigned(name), nil
	}
	if slices.ContainsFunc(b.Spent, func(n SpentNonce) bool { return n.Nonce == p.Statement.Nonce }) {
		return identity.Identity{}, fmt.Errorf("this signed statement was already used; sign the decision again")
	}
	id, err := b.sig.verifier.Verify(p, c, workflow.Now(ctx))
	if err != nil && !b.sig.roots.Configured() {
		return id, fmt.Errorf("%w; the worker has no trust roots: unset RUNBOOK_SIGNING_KEY to decide unsigned here", err)
	}
	return id, err
}

// errUpgrading is the refusal of a request to a run that is upgrading.
func errUpgrading() error {
	return temporal.NewApplicationError("the Freezes workflow is moving to signed freezes (a new run); send the request again",
		ErrTypeFreezesUpgrading)
}

// upgrade marks, in a handler of a run from before signed freezes, that the
// run must continue as new before it takes a decision on a name alone.
// Replaying a history from before the upgrade reads the default version
// here, so its handlers run as they did. The change ID names the request:
// the SDK remembers a change ID's version from its first call, and the
// replayed requests before the upgrade read the default, so one change ID
// for all of them would read the default after the upgrade too.
func (b *board) upgrade(ctx workflow.Context) bool {
	if b.sig.on || b.sig.upgrading {
		return b.sig.upgrading
	}
	change := fmt.Sprintf("%s-%d", signedFreezesUpgradeChange, b.requests)
	b.sig.upgrading = workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) >= 1
	return b.sig.upgrading
}

// decide is decider in a handler: it waits for the first load of the roots,
// verifies again (another Update may have spent the nonce meanwhile) and
// spends the proof.
func (b *board) decide(ctx workflow.Context, p *identity.Proof, c identity.Claim, name string) (identity.Identity, error) {
	if b.upgrade(ctx) {
		return identity.Identity{}, errUpgrading()
	}
	if b.sig.on {
		if err := workflow.Await(ctx, func() bool { return b.sig.loaded }); err != nil {
			return identity.Identity{}, err
		}
	}
	id, err := b.decider(ctx, p, c, name)
	if err != nil {
		return id, err
	}
	if p != nil && b.sig.on {
		b.Spent = append(b.Spent, SpentNonce{Nonce: p.Statement.Nonce, At: p.Statement.Time})
		b.Spent = freshNonces(b.Spent, workflow.Now(ctx))
	}
	return id, nil
}

// freshNonces drops the nonces whose statements would be refused as stale.
func freshNonces(spent []SpentNonce, now time.Time) []SpentNonce {
	return slices.DeleteFunc(slices.Clone(spent), func(n SpentNonce) bool { return now.Sub(n.At) > nonceMemory })
}

// trustNote says, for the Web UI, how this run checks who freezes.
func (b *board) trustNote() string {
	switch {
	case !b.sig.on:
		return "Names are taken as given (a run from before signed freezes; the next run verifies them)."
	case !b.sig.loaded:
		return "Loading the worker's trust roots."
	case b.sig.verifier == nil:
		return fmt.Sprintf("The worker's trust roots did not load (%v): freezes are refused until they do.", b.sig.loadErr)
	case b.sig.roots.Configured():
		return "Freezes are signed and verified (" + strings.Join(b.sig.roots.Methods(), ", ") + ")."
	}
	return "Freezes are unsigned: the worker has no trust roots (RUNBOOK_ALLOWED_SIGNERS), so names are taken as given."
}
