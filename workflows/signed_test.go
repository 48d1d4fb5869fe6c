package workflows

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/runbooks"
)

// signedStart is the workflow clock's start in the signed-decision tests;
// statements are signed at the moment their Update is sent.
var signedStart = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// team is a set of people with keys the worker's trust roots list.
type team struct {
	keys  map[string]ssh.Signer
	roots identity.Roots
}

func newTeam(t *testing.T, names ...string) team {
	t.Helper()
	tm := team{keys: map[string]ssh.Signer{}}
	var lines []string
	for _, n := range names {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		s, err := ssh.NewSignerFromKey(priv)
		require.NoError(t, err)
		tm.keys[n] = s
		lines = append(lines, n+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))))
	}
	tm.roots = identity.Roots{AllowedSigners: strings.Join(lines, "\n"), AllowedSignersFile: "allowed_signers",
		Groups: map[string][]string{"sre": {"carol"}}}
	return tm
}

// sign signs claim with key's owner's key, claiming to be as, at the time t.
func (tm team) sign(t *testing.T, key, as string, c identity.Claim, at time.Time) *identity.Proof {
	t.Helper()
	p, err := identity.SSHSigner{Key: tm.keys[key], Now: func() time.Time { return at }}.Sign(context.Background(), c, as)
	require.NoError(t, err)
	return p
}

// signedEnv is a production environment (signed by default) with a gate
// bob or the sre group decide, and a requester's signed deploy.
func signedEnv(t *testing.T, h *harness, tm team) EnvironmentInput {
	t.Helper()
	e := runbooks.Environment{Name: "production", Steps: []runbooks.Step{check("deploy", h.srv.url("/deploy"))}}
	e.Approvals = []runbooks.Approval{{Name: "cab", Approvers: []string{"bob", "dave", "group:sre"}, MinApprovals: 1}}
	in := envInput(e)
	in.Digest = testDigest
	in.RequestedAt = signedStart
	in.RequesterProof = tm.sign(t, "dave", "dave", DeployClaim(testReleaseID, testVersion, testDigest, nil), signedStart)
	h.env.SetStartTime(signedStart)
	h.roots = tm.roots
	return in
}

// approveClaim is the claim of an approval of gate in the running environment.
func (h *harness) approveClaim(gate, comment string) identity.Claim {
	st := h.envStatus()
	return DecisionClaim(st.WorkflowID, st.RunID, true, DecisionInput{Gate: gate, Comment: comment})
}

// A hostile colleague tries every way around signed decisions; only a
// verified approver's own signature opens the gate.
func TestSignedDecisionsRefuseForgeries(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "alice", "bob", "carol", "dave")
	in := signedEnv(t, h, tm)
	in.Env.Approvals[0].MinApprovals = 2
	now := signedStart.Add(time.Minute)
	outcomes := map[string]*updateOutcome{}
	var used *identity.Proof
	h.at(time.Minute, func() {
		c := h.approveClaim("cab", "")
		send := func(name string, d DecisionInput) { outcomes[name] = h.update(UpdateApprove, d) }
		send("web ui", DecisionInput{Gate: "cab", Actor: "bob"})
		send("cli unsigned", DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli"})
		send("alice as bob", DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: tm.sign(t, "alice", "bob", c, now)})
		send("requester", DecisionInput{Gate: "cab", Actor: "dave", Channel: "cli", Proof: tm.sign(t, "dave", "dave", c, now)})
		send("alice not approver", DecisionInput{Gate: "cab", Actor: "alice", Channel: "cli", Proof: tm.sign(t, "alice", "alice", c, now)})
		other := DecisionClaim(c.Workflow, "another-run", true, DecisionInput{Gate: "cab"})
		send("other run", DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: tm.sign(t, "bob", "bob", other, now)})
		used = tm.sign(t, "carol", "carol", c, now)
		send("carol by group", DecisionInput{Gate: "cab", Actor: "carol", Channel: "cli", Proof: used})
	})
	h.at(2*time.Minute, func() {
		outcomes["replayed"] = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "carol", Channel: "cli", Proof: used})
	})
	h.at(3*time.Minute, func() {
		p := tm.sign(t, "bob", "bob", h.approveClaim("cab", "ticket ok"), signedStart.Add(3*time.Minute))
		outcomes["bob"] = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "someone else entirely", Comment: "ticket ok", Channel: "cli", Proof: p})
	})
	h.runEnvironment(in)

	requireRejected(t, outcomes["web ui"], "the Temporal Web UI cannot sign")
	requireRejected(t, outcomes["cli unsigned"], "RUNBOOK_SIGNING_KEY")
	requireRejected(t, outcomes["alice as bob"], "may not sign as bob")
	requireRejected(t, outcomes["requester"], "dave started this release and may not approve it")
	requireRejected(t, outcomes["alice not approver"], "alice may not decide gate cab")
	requireRejected(t, outcomes["other run"], "valid for one decision only")
	requireDecision(t, outcomes["carol by group"], DecisionResult{Gate: "cab", GateState: StateWaiting, Approvals: 1, Needed: 2})
	requireRejected(t, outcomes["replayed"], "already used")
	// --as is a display name at most: the verified signer is recorded.
	requireDecision(t, outcomes["bob"], DecisionResult{Gate: "cab", GateState: StateApproved, Approvals: 2, Needed: 2})

	st := h.envStatus()
	require.Equal(t, StateSucceeded, st.State)
	require.Equal(t, "dave", st.Requester.Name)
	require.Equal(t, identity.MethodSSH, st.Requester.Method)
	require.Contains(t, st.Identity, "signed: ssh")
	gate := st.Steps[stepIndex(t, st, "cab")].Gate
	require.Equal(t, "carol", gate.Approvals[0].Actor)
	require.Equal(t, "bob", gate.Approvals[1].Actor)
	require.Equal(t, "ssh "+ssh.FingerprintSHA256(tm.keys["carol"].PublicKey()), gate.Approvals[0].Verified)
	entries := h.auditEntries()
	var approvals []string
	for _, e := range entries {
		if e.Action == "gate.approved" {
			approvals = append(approvals, e.Actor+" "+e.Identity)
		}
	}
	require.Equal(t, []string{"carol " + gate.Approvals[0].Verified, "bob " + gate.Approvals[1].Verified}, approvals)
}

// Without trust roots, or without the requester's signature, a signed
// environment stops before its first step and says what is missing.
func TestSignedEnvironmentNeedsRootsAndASignedRelease(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *harness, in *EnvironmentInput)
		want  string
	}{
		{"no trust roots", func(h *harness, _ *EnvironmentInput) { h.roots = identity.Roots{} }, "the worker has no trust roots"},
		{"unsigned release", func(_ *harness, in *EnvironmentInput) { in.RequesterProof = nil }, "needs signed decisions"},
		{"deploy signed for another version", func(_ *harness, in *EnvironmentInput) { in.Version = "9.9.9" }, "valid for one decision only"},
		{"deploy signed long before the release", func(_ *harness, in *EnvironmentInput) {
			in.RequestedAt = signedStart.Add(time.Hour)
		}, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tm := newTeam(t, "dave")
			in := signedEnv(t, h, tm)
			tc.setup(h, &in)
			h.runEnvironment(in)
			st := h.envStatus()
			require.Equal(t, StateRolledBack, st.State, "reason %s", st.Reason)
			require.Contains(t, st.Reason, tc.want)
			require.Empty(t, h.calls(), "no step may run")
		})
	}
}

// An unsigned environment takes names as given and says so; a signed
// decision there is still verified.
func TestUnsignedEnvironmentSaysSo(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "bob", "dave")
	in := signedEnv(t, h, tm)
	in.Env.Identity = runbooks.IdentityUnsigned
	var unsigned, forged *updateOutcome
	h.at(time.Minute, func() {
		forged = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli",
			Proof: tm.sign(t, "dave", "bob", h.approveClaim("cab", ""), signedStart.Add(time.Minute))})
		unsigned = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "bob"})
	})
	h.runEnvironment(in)
	requireRejected(t, forged, "may not sign as bob")
	requireDecision(t, unsigned, DecisionResult{Gate: "cab", GateState: StateApproved, Approvals: 1, Needed: 1})
	st := h.envStatus()
	require.Contains(t, st.Identity, "unsigned: names are taken as given")
	require.Equal(t, identity.MethodUnsigned, st.Steps[stepIndex(t, st, "cab")].Gate.Approvals[0].Verified)
}

func stepIndex(t *testing.T, st EnvironmentStatus, name string) int {
	t.Helper()
	for i, s := range st.Steps {
		if s.Name == name {
			return i
		}
	}
	t.Fatalf("no step %s in %s", name, fmt.Sprint(st.Steps))
	return -1
}

// A key removed from the trust roots while a gate waits no longer decides
// it: the decision, signed and verified against the roots read before the
// gate opened, is checked again against the roots read as it arrives,
// refused, and the refusal recorded; a signer the new roots still trust
// opens the gate.
func TestKeyRevokedWhileTheGateWaits(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "alice", "bob", "carol", "dave")
	in := signedEnv(t, h, tm)
	h.roots.Digest = "before"
	var bob, carol *identity.Proof
	var bobOut, carolOut *updateOutcome
	h.at(time.Hour, func() {
		revoked := tm.roots
		var kept []string
		for _, line := range strings.Split(revoked.AllowedSigners, "\n") {
			if !strings.HasPrefix(line, "bob ") {
				kept = append(kept, line)
			}
		}
		revoked.AllowedSigners, revoked.Digest = strings.Join(kept, "\n"), "after"
		h.roots = revoked
		at := signedStart.Add(time.Hour)
		bob = tm.sign(t, "bob", "bob", h.approveClaim("cab", ""), at)
		bobOut = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: bob})
	})
	h.at(2*time.Hour, func() {
		carol = tm.sign(t, "carol", "carol", h.approveClaim("cab", ""), signedStart.Add(2*time.Hour))
		carolOut = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "carol", Channel: "cli", Proof: carol})
	})
	h.runEnvironment(in)

	require.True(t, bobOut.accepted && bobOut.completed, "bob's approval passed the validator (roots from before) and ran its handler: %+v", bobOut)
	require.ErrorContains(t, bobOut.err, "no longer trust")
	require.ErrorContains(t, bobOut.err, "may not sign as bob")
	requireDecision(t, carolOut, DecisionResult{Gate: "cab", GateState: StateApproved, Approvals: 1, Needed: 1})
	st := h.envStatus()
	require.Equal(t, StateSucceeded, st.State)
	gate := st.Steps[stepIndex(t, st, "cab")].Gate
	require.Len(t, gate.Approvals, 1)
	require.Equal(t, "carol", gate.Approvals[0].Actor)
	var refused []string
	for _, e := range h.auditEntries() {
		if e.Action == "gate.refused" {
			refused = append(refused, e.Actor+": "+e.Detail)
		}
	}
	require.Len(t, refused, 1)
	require.Contains(t, refused[0], "bob: the trust roots changed while gate cab waited")
}

// Two signed approvals by one person in the same moment (two statements,
// two nonces): reading the trust roots lets the second handler run before
// the first records its approval, and it is checked again after the read,
// so the person approves once.
func TestOneApproverTwiceAtOnce(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "alice", "bob", "carol", "dave")
	in := signedEnv(t, h, tm)
	in.Env.Approvals[0].MinApprovals = 2
	var first, second, bob *updateOutcome
	h.at(time.Minute, func() {
		c := h.approveClaim("cab", "")
		at := signedStart.Add(time.Minute)
		first = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "carol", Channel: "cli", Proof: tm.sign(t, "carol", "carol", c, at)})
		second = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "carol", Channel: "cli", Proof: tm.sign(t, "carol", "carol", c, at)})
	})
	h.at(2*time.Minute, func() {
		p := tm.sign(t, "bob", "bob", h.approveClaim("cab", ""), signedStart.Add(2*time.Minute))
		bob = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "bob", Channel: "cli", Proof: p})
	})
	h.runEnvironment(in)

	// Either may run first: one counts, the other is refused.
	if first.err != nil || first.rejected != nil {
		first, second = second, first
	}
	requireDecision(t, first, DecisionResult{Gate: "cab", GateState: StateWaiting, Approvals: 1, Needed: 2})
	refused := second.rejected
	if refused == nil {
		refused = second.err
	}
	require.ErrorContains(t, refused, "carol already approved gate cab")
	requireDecision(t, bob, DecisionResult{Gate: "cab", GateState: StateApproved, Approvals: 2, Needed: 2})
	gate := h.envStatus().Steps[stepIndex(t, h.envStatus(), "cab")].Gate
	require.Equal(t, []string{"carol", "bob"}, []string{gate.Approvals[0].Actor, gate.Approvals[1].Actor})
}

// A key removed while the environment runs no longer pauses it: the pause,
// verified by its validator against the roots from before, is checked again
// against the roots read as it arrives, refused and recorded as refused.
func TestControlByARevokedKey(t *testing.T) {
	h := newHarness(t)
	tm := newTeam(t, "alice", "bob", "carol", "dave")
	in := signedEnv(t, h, tm)
	h.roots.Digest = "before"
	var pause, approve *updateOutcome
	h.at(time.Hour, func() {
		revoked := tm.roots
		revoked.AllowedSigners = strings.Join(slices.DeleteFunc(strings.Split(revoked.AllowedSigners, "\n"),
			func(l string) bool { return strings.HasPrefix(l, "bob ") }), "\n")
		revoked.Digest = "after"
		h.roots = revoked
		st := h.envStatus()
		c := ControlClaim(st.WorkflowID, st.RunID, UpdatePause, ControlInput{Reason: "hold on"})
		p := tm.sign(t, "bob", "bob", c, signedStart.Add(time.Hour))
		pause = h.update(UpdatePause, ControlInput{Actor: "bob", Reason: "hold on", Proof: p})
	})
	h.at(2*time.Hour, func() {
		p := tm.sign(t, "carol", "carol", h.approveClaim("cab", ""), signedStart.Add(2*time.Hour))
		approve = h.update(UpdateApprove, DecisionInput{Gate: "cab", Actor: "carol", Channel: "cli", Proof: p})
	})
	h.runEnvironment(in)

	require.True(t, pause.accepted && pause.completed, "the pause passed its validator and ran its handler: %+v", pause)
	require.ErrorContains(t, pause.err, "no longer trust")
	requireDecision(t, approve, DecisionResult{Gate: "cab", GateState: StateApproved, Approvals: 1, Needed: 1})
	st := h.envStatus()
	require.Equal(t, StateSucceeded, st.State)
	require.False(t, st.Paused)
	require.Contains(t, h.auditActions(), "pause.refused cab running")
}
