package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/internal/identity"
)

// freezesAt starts the Freezes workflow at signedStart with roots.
func (h *harness) freezesAt(roots identity.Roots, in FreezesInput) {
	h.env.SetStartTime(signedStart)
	h.roots = roots
	h.env.SetStartWorkflowOptions(clientStartOptions(freezes.WorkflowID))
	h.env.ExecuteWorkflow(Freezes, in)
}

// listFreezes queries the running Freezes workflow.
func (h *harness) listFreezes() []freezes.Freeze {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(freezes.QueryList)
	require.NoError(h.t, err)
	var fs []freezes.Freeze
	require.NoError(h.t, v.Get(&fs))
	return fs
}

// On a worker with trust roots, only a freeze signed by its creator's own
// key is created and only a signed lift lifts it: unsigned, forged, stale,
// replayed and re-scoped requests are refused before they reach history,
// and the verified names and keys are recorded and audited.
func TestSignedFreezesRefuseForgeries(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "cab", "mallory")
	at := signedStart.Add(time.Minute)
	prod := freezes.CreateInput{Actor: "cab", Reason: "holiday peak", Environments: []string{"production"},
		To: signedStart.Add(72 * time.Hour)}
	good := prod
	good.Proof = tm.sign(t, "cab", "cab", FreezeCreateClaim(prod), at)
	o := map[string]*updateOutcome{}
	h.at(time.Minute, func() {
		o["unsigned"] = h.update(freezes.UpdateCreate, prod)
		forged := prod
		forged.Proof = tm.sign(t, "mallory", "cab", FreezeCreateClaim(prod), at)
		o["forged"] = h.update(freezes.UpdateCreate, forged)
		stale := prod
		stale.Proof = tm.sign(t, "cab", "cab", FreezeCreateClaim(prod), at.Add(-identity.MaxAge-time.Minute))
		o["stale"] = h.update(freezes.UpdateCreate, stale)
		// cab's signature for another scope (all environments), then
		// for the freeze it was made for, then for that freeze again.
		wider := good
		wider.Environments = nil
		o["rescoped"] = h.update(freezes.UpdateCreate, wider)
		o["create"] = h.update(freezes.UpdateCreate, good)
	})
	h.at(2*time.Minute, func() { o["replayed"] = h.update(freezes.UpdateCreate, good) })
	var listed []freezes.Freeze
	h.at(3*time.Minute, func() {
		id := o["create"].result.(freezes.Freeze).ID
		lift := freezes.LiftInput{ID: id, Actor: "cab", Reason: "peak over"}
		o["lift unsigned"] = h.update(freezes.UpdateLift, lift)
		asCreate := lift
		asCreate.Proof = tm.sign(t, "cab", "cab", FreezeCreateClaim(prod), signedStart.Add(3*time.Minute))
		o["lift with create proof"] = h.update(freezes.UpdateLift, asCreate)
		other := lift
		other.ID = "freeze-20261207-000000"
		lift.Proof = tm.sign(t, "cab", "cab", FreezeLiftClaim(lift), signedStart.Add(3*time.Minute))
		other.Proof = lift.Proof
		o["lift other"] = h.update(freezes.UpdateLift, other)
		o["lift"] = h.update(freezes.UpdateLift, lift)
	})
	h.at(4*time.Minute, func() {
		listed = h.listFreezes()
		h.env.CancelWorkflow()
	})
	h.freezesAt(tm.roots, FreezesInput{})

	requireRejected(t, o["unsigned"], "freezes must be signed")
	requireRejected(t, o["unsigned"], "RUNBOOK_SIGNING_KEY")
	requireRejected(t, o["unsigned"], "Web UI cannot sign")
	requireRejected(t, o["forged"], "may not sign as cab")
	requireRejected(t, o["stale"], "sign the decision again")
	requireRejected(t, o["rescoped"], "the signature is for detail")
	requireRejected(t, o["replayed"], "already used")
	requireRejected(t, o["lift unsigned"], "freezes must be signed")
	requireRejected(t, o["lift with create proof"], `the signature is for action "freeze.create"`)
	requireRejected(t, o["lift other"], `no freeze "freeze-20261207-000000"`)
	require.NoError(t, o["create"].err)
	require.NoError(t, o["lift"].err)

	require.Len(t, listed, 1, "refused requests leave no freeze")
	f := listed[0]
	key := "ssh " + ssh256(tm, "cab")
	require.Equal(t, "cab", f.CreatedBy)
	require.Equal(t, key, f.CreatedIdentity)
	require.Equal(t, "cab", f.LiftedBy)
	require.Equal(t, key, f.LiftedIdentity)
	var ids []string
	for _, e := range h.auditEntries() {
		ids = append(ids, e.Action+" "+e.Actor+" "+e.Identity)
	}
	require.Equal(t, []string{"freeze.created cab " + key, "freeze.lifted cab " + key}, ids)
}

// On a worker without trust roots a freeze is unsigned, as before signed
// freezes, and says so; a signed one is still verified, and refused since
// nothing can verify it.
func TestUnsignedFreezesWithoutTrustRoots(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "cab")
	in := freezes.CreateInput{Actor: "cab", Reason: "quarter close"}
	o := map[string]*updateOutcome{}
	var listed []freezes.Freeze
	h.at(time.Minute, func() {
		signed := in
		signed.Proof = tm.sign(t, "cab", "cab", FreezeCreateClaim(in), signedStart.Add(time.Minute))
		o["signed"] = h.update(freezes.UpdateCreate, signed)
		o["unsigned"] = h.update(freezes.UpdateCreate, in)
	})
	h.at(2*time.Minute, func() {
		listed = h.listFreezes()
		h.env.CancelWorkflow()
	})
	h.freezesAt(identity.Roots{}, FreezesInput{})

	requireRejected(t, o["signed"], "no allowed signers file")
	requireRejected(t, o["signed"], "unset RUNBOOK_SIGNING_KEY")
	require.NoError(t, o["unsigned"].err)
	require.Len(t, listed, 1)
	require.Equal(t, freezes.Unsigned, listed[0].CreatedIdentity)
	require.Contains(t, listed[0].Describe(), "by cab (unsigned)")
	require.Equal(t, freezes.Unsigned, h.auditEntries()[0].Identity)
}

// A spent nonce survives the continue-as-new (a signed create cannot be
// sent again to the next run), and is forgotten once its statement is
// stale anyway, so the state stays bounded.
func TestSignedFreezeNoncesCarriedAndForgotten(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "cab")
	in := freezes.CreateInput{Actor: "cab", Reason: "quarter close"}
	in.Proof = tm.sign(t, "cab", "cab", FreezeCreateClaim(in), signedStart)
	var replayed *updateOutcome
	h.at(time.Minute, func() { replayed = h.update(freezes.UpdateCreate, in) })
	h.at(2*time.Minute, func() { h.env.CancelWorkflow() })
	h.freezesAt(tm.roots, FreezesInput{Spent: []SpentNonce{{Nonce: in.Proof.Statement.Nonce, At: signedStart}}})
	requireRejected(t, replayed, "already used")

	old := SpentNonce{Nonce: "old", At: signedStart.Add(-nonceMemory - time.Second)}
	recent := SpentNonce{Nonce: "recent", At: signedStart.Add(-time.Minute)}
	b := &board{FreezesInput: FreezesInput{Spent: []SpentNonce{old, recent}}}
	require.Equal(t, []SpentNonce{recent}, b.snapshot(signedStart).Spent)
}

// The run reloads the trust roots on a timer: a key removed from the
// allowed signers stops freezing within trustReloadEvery, without a new
// run, and unchanged roots come back as their digest only.
func TestSignedFreezesReloadTrustRoots(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "cab", "mallory")
	withoutMallory := tm.roots
	withoutMallory.AllowedSigners = keepLines(tm.roots.AllowedSigners, "cab ")
	in := freezes.CreateInput{Actor: "mallory", Reason: "peak"}
	o := map[string]*updateOutcome{}
	h.at(time.Minute, func() {
		p := in
		p.Proof = tm.sign(t, "mallory", "mallory", FreezeCreateClaim(in), signedStart.Add(time.Minute))
		o["before"] = h.update(freezes.UpdateCreate, p)
		h.mu.Lock()
		h.roots = withoutMallory
		h.mu.Unlock()
	})
	after := trustReloadEvery + 2*time.Minute
	h.at(after, func() {
		p := in
		p.Proof = tm.sign(t, "mallory", "mallory", FreezeCreateClaim(in), signedStart.Add(after))
		o["after"] = h.update(freezes.UpdateCreate, p)
		h.env.CancelWorkflow()
	})
	h.freezesAt(tm.roots, FreezesInput{})
	require.NoError(t, o["before"].err)
	requireRejected(t, o["after"], "may not sign as mallory")
}

// keepLines keeps the lines of text that start with prefix.
func keepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// ssh256 is the SHA256 fingerprint of name's key.
func ssh256(tm team, name string) string {
	return ssh.FingerprintSHA256(tm.keys[name].PublicKey())
}

// A run started before signed freezes, still running when the worker is
// upgraded, takes no decision on a name alone: its first request after the
// upgrade is refused as upgrading (the client sends it again) and the run
// continues as new, carrying its freezes, so the new run verifies it.
func TestFreezesRunFromBeforeSigningUpgrades(t *testing.T) {
	h := newHarness(t)
	h.env.OnGetVersion(signedFreezesChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	old := activeFreeze("freeze-1", signedStart.Add(-time.Hour), time.Time{}, "production")
	var first *updateOutcome
	h.at(time.Minute, func() {
		first = h.update(freezes.UpdateCreate, freezes.CreateInput{Actor: "cab", Reason: "peak"})
	})
	h.freezesAt(newTeam(t, "cab").roots, FreezesInput{Freezes: []freezes.Freeze{old}})

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, first.err, &appErr)
	require.Equal(t, ErrTypeFreezesUpgrading, appErr.Type())
	// Once upgrading, validators refuse every request until the run ends.
	upgrading := &board{sig: freezeSigning{upgrading: true}}
	_, err := upgrading.decider(nil, nil, identity.Claim{}, "cab")
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeFreezesUpgrading, appErr.Type())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var next FreezesInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, []freezes.Freeze{old}, next.Freezes)
	require.Empty(t, h.auditEntries(), "no freeze was created on a name alone")
}
