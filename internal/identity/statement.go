// Package identity says who made a decision, and proves it. A person signs a
// Statement — one decision about one place: the workflow, its run, the gate
// or action, the comment and the time — with their SSH key (the SSHSIG format
// of `ssh-keygen -Y sign` and git), or presents an OIDC ID token whose nonce
// is the statement's hash; the worker's Slack endpoint signs a click with the
// worker's own key on behalf of the Slack user it mapped. Roots, the trust
// roots of the worker's configuration, turn a Proof into an Identity.
//
// Verification is pure computation (no clock, no I/O), so Temporal Update
// validators can run it and a refused decision leaves no trace in history.
package identity

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// SSHSIG namespaces: a signature made for one purpose is never valid for
// another (git's "git" namespace, a file signature, ...).
const (
	// NamespaceDecision is the namespace of a person's decision.
	NamespaceDecision = "runbook-decision@runbookhq"
	// NamespaceSlack is the namespace of the worker's signature of a Slack
	// click on behalf of the mapped user. The worker's key must be listed
	// in the allowed signers with namespaces="runbook-slack@runbookhq"
	// and nothing else, so no person's key can speak for Slack users.
	NamespaceSlack = "runbook-slack@runbookhq"
)

// Methods of proof.
const (
	MethodSSH      = "ssh"
	MethodOIDC     = "oidc"
	MethodSlack    = "slack"
	MethodUnsigned = "unsigned"
)

// Actions a statement decides.
const (
	ActionDeploy        = "deploy"
	ActionApprove       = "approve"
	ActionReject        = "reject"
	ActionAbort         = "abort"
	ActionPause         = "pause"
	ActionResume        = "resume"
	ActionPromote       = "promote"
	ActionMigrate       = "migrate"
	ActionFreezeCreate  = "freeze.create"
	ActionFreezeLift    = "freeze.lift"
	statementVersion    = 1
	maxStatementFieldSz = 4096
)

// Statement is what a person signs. Its canonical bytes (Bytes) are the
// message of the signature or the source of the ID token's nonce.
type Statement struct {
	// V is the statement format, 1.
	V int `json:"v"`
	// Action is what is decided (Action* constants).
	Action string `json:"action"`
	// Workflow and Run are the Temporal workflow the decision is for; Run
	// is empty for a deploy, whose run does not exist yet.
	Workflow string `json:"workflow"`
	Run      string `json:"run,omitempty"`
	// Target is the gate, freeze or step the decision is about.
	Target string `json:"target,omitempty"`
	// Detail is the rest of the decision that changes its effect (a
	// migration's "force 3", a deploy's version and digest).
	Detail string `json:"detail,omitempty"`
	// Comment is the decision's comment or reason, as recorded.
	Comment string `json:"comment,omitempty"`
	// Signer is who the signer says they are: a principal of the allowed
	// signers file, or for Slack the mapped identity.
	Signer string `json:"signer"`
	// Time is when it was signed; validators refuse stale statements.
	Time time.Time `json:"time"`
	// Nonce makes every statement unique, so one cannot be used twice.
	Nonce string `json:"nonce"`
}

// Claim is what a request says it decides; the verifier compares it with the
// signed statement field by field.
type Claim struct {
	Action, Workflow, Run, Target, Detail, Comment string
}

// NewStatement fills a statement for claim, signed by signer now.
func NewStatement(c Claim, signer string, now time.Time) Statement {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	return Statement{V: statementVersion, Action: c.Action, Workflow: c.Workflow, Run: c.Run,
		Target: c.Target, Detail: c.Detail, Comment: c.Comment, Signer: signer,
		Time: now.UTC().Truncate(time.Second), Nonce: hex.EncodeToString(nonce[:])}
}

// Bytes is the canonical encoding: JSON of the struct, fields in declaration
// order, UTC time. The same statement always has the same bytes.
func (s Statement) Bytes() []byte {
	s.Time = s.Time.UTC()
	b, _ := json.Marshal(s) // a struct of strings, an int and a time cannot fail
	return b
}

// check compares the signed statement with what the request claims.
func (s Statement) check(c Claim) error {
	if s.V != statementVersion {
		return fmt.Errorf("statement version %d is not supported (want %d): update the runbook CLI", s.V, statementVersion)
	}
	for _, f := range []struct{ name, signed, claimed string }{
		{"action", s.Action, c.Action}, {"workflow", s.Workflow, c.Workflow}, {"run", s.Run, c.Run},
		{"gate or target", s.Target, c.Target}, {"detail", s.Detail, c.Detail}, {"comment", s.Comment, c.Comment},
	} {
		if f.signed != f.claimed {
			return fmt.Errorf("the signature is for %s %q, not %q: a signature is valid for one decision only; sign this one",
				f.name, clip(f.signed), clip(f.claimed))
		}
	}
	if len(s.Nonce) < 16 {
		return fmt.Errorf("the signed statement has no nonce")
	}
	if len(s.Comment) > maxStatementFieldSz || len(s.Detail) > maxStatementFieldSz {
		return fmt.Errorf("the signed statement is too large")
	}
	return nil
}

// fresh refuses a statement signed too long ago or in the future.
func (s Statement) fresh(now time.Time, maxAge, skew time.Duration) error {
	switch {
	case s.Time.After(now.Add(skew)):
		return fmt.Errorf("the statement is dated %s, in the future (worker time %s): check your clock",
			s.Time.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.Sub(s.Time) > maxAge:
		return fmt.Errorf("the statement was signed at %s, more than %s ago: sign the decision again",
			s.Time.UTC().Format(time.RFC3339), maxAge)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
