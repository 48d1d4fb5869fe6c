package workflows

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/trust"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/runbooks"
)

// signedDecisionsChange versions signed decisions: runs started with it load
// the worker's trust roots, verify the requester's signature and every
// decision's, and record verified identities.
const signedDecisionsChange = "signed-decisions"

// ErrTypeUnverified ends an environment whose policy needs signed decisions
// when the release was not signed, or the worker cannot verify signatures.
const ErrTypeUnverified = "DecisionUnverified"

var trustActs *trust.Activities

// signing is the environment's side of signed decisions.
type signing struct {
	// on is set for runs started with signedDecisionsChange.
	on bool
	// mode is runbooks.IdentitySigned or IdentityUnsigned.
	mode     string
	roots    identity.Roots
	verifier *identity.Verifier
	// used holds the nonces of accepted proofs: a statement decides once.
	used map[string]bool
	// readAt is when the roots were last read (workflow time).
	readAt time.Time
}

// rootsFresh is how old a read of the trust roots may be for a gate to open
// on it (lean-release 4): a signed decision re-reads them as it arrives
// anyway, so a read moments before the gate, by the steps ahead of it,
// serves it as well.
const rootsFresh = time.Minute

// Claims of each kind of decision: what a signature must cover. The CLI
// builds the same claims to sign them.

// DeployClaim is what the requester signs: the release, its version and
// digest, and a break-glass reason.
func DeployClaim(releaseID, version, digest string, bg *BreakGlassRequest) identity.Claim {
	c := identity.Claim{Action: identity.ActionDeploy, Workflow: releaseID, Detail: version + " " + digest}
	if bg != nil {
		c.Comment = "break-glass: " + bg.Reason
	}
	return c
}

// DecisionClaim is what an approval or rejection signs: the gate in one run.
func DecisionClaim(workflowID, runID string, approve bool, in DecisionInput) identity.Claim {
	action := identity.ActionReject
	if approve {
		action = identity.ActionApprove
	}
	return identity.Claim{Action: action, Workflow: workflowID, Run: runID, Target: in.Gate, Comment: in.Comment}
}

// ControlClaim is what pause, resume, abort and promote sign.
func ControlClaim(workflowID, runID, update string, in ControlInput) identity.Claim {
	return identity.Claim{Action: update, Workflow: workflowID, Run: runID, Comment: in.Reason}
}

// MigrationClaim is what a retry or force of a failed migration signs.
func MigrationClaim(workflowID, runID string, in MigrationDecisionInput) identity.Claim {
	return identity.Claim{Action: identity.ActionMigrate, Workflow: workflowID, Run: runID,
		Detail: fmt.Sprintf("%s %d", in.Action, in.Version), Comment: in.Comment}
}

// establishIdentity loads the trust roots and verifies who asked for the
// release. In a signed environment an unsigned or unverifiable release
// stops here, before any step.
func (e *environment) establishIdentity(ctx workflow.Context) *failure {
	if !e.sig.on {
		return nil
	}
	e.sig.mode = e.in.Policy.IdentityMode(&e.in.Env)
	e.sig.used = map[string]bool{}
	loadErr := e.loadRoots(ctx)
	signed := e.sig.mode == runbooks.IdentitySigned
	e.status.Identity = e.identityNote(loadErr)
	switch {
	case signed && loadErr != nil:
		return e.unverified("the worker's trust roots did not load: %v", loadErr)
	case signed && !e.sig.roots.Configured():
		return e.unverified("the worker has no trust roots: set RUNBOOK_ALLOWED_SIGNERS (and RUNBOOK_GROUPS_FILE) on the worker, " +
			"or set identity: unsigned for this environment")
	}
	at := e.in.RequestedAt
	if at.IsZero() {
		at = workflow.Now(ctx)
	}
	id, err := e.verify(e.in.RequesterProof, DeployClaim(e.in.ReleaseID, e.in.Version, e.in.Digest, e.in.BreakGlass), e.in.Requester, "cli", at)
	if err != nil {
		return &failure{cause: ErrTypeUnverified, message: fmt.Sprintf("environment %s cannot verify who asked for the release: %v", e.status.Name, err)}
	}
	e.status.Requester = &id
	if !id.Verified() {
		return nil
	}
	// Who asked, as proven: the first line of the release's evidence.
	e.audit(ctx, auditRecord{action: "release.requester", actor: id.Name, outcome: id.Method, identity: auditIdentity(id),
		detail: "requested " + e.in.Version})
	return nil
}

// unverified is the failure of a release that cannot prove who asked for it.
func (e *environment) unverified(format string, args ...any) *failure {
	return &failure{cause: ErrTypeUnverified, message: fmt.Sprintf("environment %s needs signed decisions (identity: %s): ",
		e.status.Name, e.sig.mode) + fmt.Sprintf(format, args...)}
}

// identityNote is the status line saying how decisions are checked here.
func (e *environment) identityNote(loadErr error) string {
	if loadErr != nil {
		return e.sig.mode + "; trust roots did not load: " + loadErr.Error()
	}
	if e.sig.mode == runbooks.IdentityUnsigned {
		return "unsigned: names are taken as given and not verified (set identity: signed to require signatures)"
	}
	return "signed: " + strings.Join(e.sig.roots.Methods(), ", ")
}

// loadRoots reads the worker's trust roots through an activity, so a replay
// uses the roots the run saw. On error the roots loaded before stay.
func (e *environment) loadRoots(ctx workflow.Context) error {
	roots, err := e.readRoots(ctx, trust.LoadInput{Known: e.sig.roots.Digest})
	if err != nil {
		return err
	}
	e.sig.readAt = workflow.Now(ctx)
	if roots.Unchanged && roots.Digest == e.sig.roots.Digest {
		return nil
	}
	// Shared with every release of the worker that loaded the same roots.
	roots, v, err := identity.Intern(roots)
	if err != nil {
		return err
	}
	e.sig.roots, e.sig.verifier = roots, v
	return nil
}

// verify turns a request's proof into the identity that decides. Without a
// proof the name is taken as given, where the environment allows it.
func (e *environment) verify(p *identity.Proof, c identity.Claim, name, channel string, at time.Time) (identity.Identity, error) {
	if p == nil {
		if e.sig.mode == runbooks.IdentitySigned {
			return identity.Identity{}, fmt.Errorf("environment %s needs signed decisions; %s", e.status.Name, howToSign(channel))
		}
		if strings.TrimSpace(name) == "" {
			return identity.Identity{}, fmt.Errorf("say who decides: pass --as NAME")
		}
		return identity.Unsigned(name), nil
	}
	if e.sig.verifier == nil || !e.sig.roots.Configured() {
		// Only an unsigned environment gets here (a signed one stops at
		// its start without roots): names are taken as given anyway.
		return identity.Unsigned(cmp.Or(name, p.Statement.Signer)), nil
	}
	if e.sig.used[p.Statement.Nonce] {
		return identity.Identity{}, fmt.Errorf("this signed statement was already used; sign the decision again")
	}
	return e.sig.verifier.Verify(p, c, at)
}

// howToSign tells a person whose unsigned decision was refused what to do,
// for the channel it came from.
func howToSign(channel string) string {
	switch channel {
	case "slack/" + UnsignedUnmapped:
		return "your Slack user is not mapped to a runbook identity, so runbook cannot sign for you: ask an admin to add " +
			"your Slack user ID to RUNBOOK_SLACK_USERS, or decide with the runbook CLI (`runbook approve`, signed with your SSH key)"
	case "slack/" + UnsignedNoKey:
		return "this runbook worker has no Slack signing key (RUNBOOK_SLACK_SIGNING_KEY), so it cannot sign Slack decisions " +
			"for you: ask an admin to set it (its public key goes in RUNBOOK_ALLOWED_SIGNERS with namespaces=\"" +
			identity.NamespaceSlack + "\"), or decide with the runbook CLI (`runbook approve`, signed with your SSH key)"
	case "slack":
		// A worker from before DecisionInput.Unsigned does not say which.
		return "runbook could not sign your Slack decision: either your Slack user is not in RUNBOOK_SLACK_USERS or the " +
			"worker has no RUNBOOK_SLACK_SIGNING_KEY; ask an admin, or decide with the runbook CLI"
	case "cli":
		return "sign it: set RUNBOOK_SIGNING_KEY to your SSH key (its public key must be in the worker's allowed signers, " +
			"RUNBOOK_ALLOWED_SIGNERS) and RUNBOOK_SIGNER to your principal, or RUNBOOK_OIDC_TOKEN_COMMAND to a command that " +
			"prints an ID token for the nonce in RUNBOOK_OIDC_NONCE; or use the Slack buttons"
	case "ui":
		return "the Temporal Web UI cannot sign decisions: decide with the runbook CLI (`runbook approve`, signed with your " +
			"SSH key: RUNBOOK_SIGNING_KEY) or the Slack buttons"
	}
	return "sign it with the runbook CLI: set RUNBOOK_SIGNING_KEY to your SSH key (its public key must be in the worker's " +
		"allowed signers) and RUNBOOK_SIGNER to your principal; the Temporal Web UI cannot sign decisions"
}

// decider verifies the person behind an Update. Runs started before signed
// decisions take the name as given, as they always did. groups are the
// channel's groups of an unsigned decision (Slack user groups).
func (e *environment) decider(ctx workflow.Context, p *identity.Proof, c identity.Claim, name, channel string, groups []string) (identity.Identity, error) {
	if !e.sig.on {
		return identity.Identity{Name: name, Groups: groups}, nil
	}
	id, err := e.verify(p, c, name, channel, workflow.Now(ctx))
	if err != nil {
		return id, err
	}
	if !id.Verified() {
		id.Groups = groups
	}
	return id, nil
}

// identify is who decides, in an Update handler. The validator verified the
// proof (decider); a replay runs handlers but not validators, and a handler
// must come to the same answer then, so this only reads the proof and the
// roots: never the workflow's IDs or the clock.
func (e *environment) identify(p *identity.Proof, name string, groups []string) identity.Identity {
	if !e.sig.on {
		return identity.Identity{Name: name, Groups: groups}
	}
	if p == nil || e.sig.verifier == nil || !e.sig.roots.Configured() {
		id := identity.Unsigned(name)
		if p != nil {
			id.Name = cmp.Or(name, p.Statement.Signer)
		}
		id.Groups = groups
		return id
	}
	e.spend(p)
	return e.sig.verifier.Identify(p)
}

// rechecks reports whether a handler reads the trust roots again for an
// Update with proof p (reverifyOnArrival): signed Updates of runs from
// lean-release 4 on.
func (e *environment) rechecks(p *identity.Proof) bool {
	return e.rootsAtDecision && e.sig.on && p != nil
}

// refusal says what a signed Update refused for changed trust roots was,
// for its error and its audit record (ACTION.refused).
type refusal struct{ what, action, step, outcome, channel string }

// reverifyOnArrival re-reads the trust roots as a signed Update arrives,
// runs state (which checks the environment again, since other handlers ran
// during the read, and says what the Update is) and, when the roots
// changed, verifies proof p again against them as of its arrival. Like
// identify, it never reads the workflow's IDs: a replay, or a reset run,
// comes to the same answer. A refusal is audited and returned.
func (e *environment) reverifyOnArrival(ctx workflow.Context, p *identity.Proof, actor string, state func() (refusal, error)) error {
	arrived := workflow.Now(ctx)
	changed := e.rereadRoots(ctx)
	r, err := state()
	if err != nil || !changed {
		return err
	}
	if _, err := e.sig.verifier.Reverify(p, arrived); err != nil {
		err = fmt.Errorf("the trust roots changed %s and no longer trust it: %w", r.what, err)
		e.audit(ctx, auditRecord{action: r.action + ".refused", actor: cmp.Or(p.Statement.Signer, actor), step: r.step,
			outcome: r.outcome, detail: err.Error(), channel: r.channel})
		return err
	}
	return nil
}

// rereadRoots reads the trust roots again as a signed Update arrives and
// reports whether they changed, so its proof must be verified again. On
// failure the roots from before stay.
func (e *environment) rereadRoots(ctx workflow.Context) bool {
	before := e.sig.roots.Digest
	if err := e.loadRoots(ctx); err != nil {
		e.log.Warn("trust roots did not reload for a decision; the ones loaded before stay", "error", err)
	}
	return e.sig.roots.Digest != before && e.sig.verifier != nil && e.sig.roots.Configured()
}

// peekIdentity is who decides, as identify says, without spending the
// proof: for checks made before the decision is.
func (e *environment) peekIdentity(in DecisionInput) identity.Identity {
	used := e.sig.used
	e.sig.used = nil
	defer func() { e.sig.used = used }()
	return e.identify(in.Proof, in.Actor, in.Groups)
}

// spend marks a proof used once its decision is made.
func (e *environment) spend(p *identity.Proof) {
	if p != nil && e.sig.used != nil {
		e.sig.used[p.Statement.Nonce] = true
	}
}

// requester is who asked for the release: verified when signed.
func (e *environment) requester() string {
	if e.status.Requester != nil {
		return e.status.Requester.Name
	}
	return e.in.Requester
}

// auditIdentity is the audit entry's identity field: how the actor was
// verified, "" for runs from before signed decisions.
func auditIdentity(id identity.Identity) string {
	switch id.Method {
	case "":
		return ""
	case identity.MethodUnsigned:
		return identity.MethodUnsigned
	}
	return id.Method + " " + id.Key
}
