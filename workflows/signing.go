package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/trust"
	"github.com/runbookhq/runbook/internal/identity"
)

// decisionSigning verifies the decisions a workflow other than an
// environment takes (a train's gates and abort, a release's abort while it
// soaks): with trust roots on the worker every such decision must be signed,
// as freezes are; without, names are taken as given.
type decisionSigning struct {
	loaded   bool
	loadErr  error
	roots    identity.Roots
	verifier *identity.Verifier
	used     map[string]bool
}

// load reads the worker's trust roots through an activity, once: later
// decisions are verified against the roots this run saw, or, for trains
// from trainRootsChange on, read again (reload) as each gate opens and as
// each signed decision arrives.
func (s *decisionSigning) load(ctx workflow.Context) {
	if s.loaded {
		return
	}
	s.loaded, s.used = true, map[string]bool{}
	roots, err := s.read(ctx, trust.LoadInput{})
	if err != nil {
		s.loadErr = err
		return
	}
	roots, v, err := identity.Intern(roots)
	if err != nil {
		s.loadErr = err
		return
	}
	s.roots, s.verifier = roots, v
}

// read runs LoadTrustRoots.
func (s *decisionSigning) read(ctx workflow.Context, in trust.LoadInput) (identity.Roots, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "load trust roots",
	})
	var roots identity.Roots
	err := workflow.ExecuteActivity(actx, trustActs.LoadTrustRoots, in).Get(ctx, &roots)
	return roots, err
}

// reload reads the trust roots again, when the first load gave some, and
// reports whether they changed. On error the roots from before stay.
func (s *decisionSigning) reload(ctx workflow.Context) (bool, error) {
	if s.verifier == nil || !s.roots.Configured() {
		return false, nil
	}
	roots, err := s.read(ctx, trust.LoadInput{Known: s.roots.Digest})
	if err != nil || roots.Unchanged && roots.Digest == s.roots.Digest {
		return false, err
	}
	roots, v, err := identity.Intern(roots)
	if err != nil {
		return false, err
	}
	s.roots, s.verifier = roots, v
	return true, nil
}

// verify is who sends a decision, at workflow time (validators call it):
// signed and verified when the worker has trust roots, else the name as
// given. what names the workflow for messages.
func (s *decisionSigning) verify(ctx workflow.Context, p *identity.Proof, c identity.Claim, name, what string) (identity.Identity, error) {
	switch {
	case s.loadErr != nil:
		return identity.Identity{}, fmt.Errorf("the worker's trust roots did not load (%v), so %s takes no decision", s.loadErr, what)
	case s.verifier != nil && s.roots.Configured():
		if p == nil {
			return identity.Identity{}, fmt.Errorf("decisions must be signed: the worker verifies them (%s); %s",
				strings.Join(s.roots.Methods(), ", "), howToSign("cli"))
		}
		if s.used[p.Statement.Nonce] {
			return identity.Identity{}, fmt.Errorf("this signed statement was already used; sign the decision again")
		}
		return s.verifier.Verify(p, c, workflow.Now(ctx))
	case strings.TrimSpace(name) == "":
		return identity.Identity{}, fmt.Errorf("say who decides: pass --as NAME")
	}
	return identity.Unsigned(name), nil
}

// peek is who identify says decided, without spending the proof.
func (s *decisionSigning) peek(p *identity.Proof, name string, groups []string) identity.Identity {
	used := s.used
	s.used = map[string]bool{}
	defer func() { s.used = used }()
	return s.identify(p, name, groups)
}

// identify is who decided, in a handler, where the validator verified
// already (a replay runs handlers without validators): it reads the proof
// only, and spends it.
func (s *decisionSigning) identify(p *identity.Proof, name string, groups []string) identity.Identity {
	if p == nil || s.verifier == nil || !s.roots.Configured() {
		id := identity.Unsigned(name)
		id.Groups = groups
		return id
	}
	s.used[p.Statement.Nonce] = true
	return s.verifier.Identify(p)
}
