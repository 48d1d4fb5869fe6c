package identity

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/internal/sshsig"
)

// Signer turns a claim into a proof: the CLI's SSH key or ID token. as is
// the name the person gave (--as): the principal to sign as when the signer
// has none of its own.
type Signer interface {
	Sign(ctx context.Context, c Claim, as string) (*Proof, error)
	// Describe says who signs and how, for messages.
	Describe() string
}

// SSHSigner signs as Principal (or, when empty, the name given) with an SSH
// key (a key file, or the ssh-agent's key).
type SSHSigner struct {
	Principal string
	Key       ssh.Signer
	Now       func() time.Time
}

// Sign signs c.
func (s SSHSigner) Sign(_ context.Context, c Claim, as string) (*Proof, error) {
	principal := s.Principal
	if principal == "" {
		principal = as
	}
	if strings.TrimSpace(principal) == "" {
		return nil, fmt.Errorf("say who signs: set RUNBOOK_SIGNER to your principal in the worker's allowed signers file")
	}
	st := NewStatement(c, principal, now(s.Now))
	sig, err := sshsig.Sign(s.Key, NamespaceDecision, st.Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign as %s: %w", principal, err)
	}
	return &Proof{Method: MethodSSH, Statement: st, Signature: string(sig)}, nil
}

// Describe names the principal and key.
func (s SSHSigner) Describe() string {
	return fmt.Sprintf("SSH key %s", ssh.FingerprintSHA256(s.Key.PublicKey()))
}

// SlackSigner is the worker's key signing Slack clicks on behalf of the
// mapped Slack user.
type SlackSigner struct {
	Key ssh.Signer
	Now func() time.Time
}

// SignFor signs c as identity for Slack user slackUser.
func (s SlackSigner) SignFor(c Claim, slackUser, identity string) (*Proof, error) {
	st := NewStatement(c, identity, now(s.Now))
	sig, err := sshsig.Sign(s.Key, NamespaceSlack, st.Bytes())
	if err != nil {
		return nil, fmt.Errorf("sign the Slack decision of %s: %w", slackUser, err)
	}
	return &Proof{Method: MethodSlack, Statement: st, Signature: string(sig), SlackUser: slackUser}, nil
}

// OIDCSigner gets an ID token bound to each statement from a command: it
// runs Command with RUNBOOK_OIDC_NONCE set to the statement's nonce and
// reads the token from its standard output (an IdP helper, or a CI job's
// token endpoint wrapped in a script).
type OIDCSigner struct {
	Command string
	Now     func() time.Time
}

// Sign gets a token for c.
func (s OIDCSigner) Sign(ctx context.Context, c Claim, _ string) (*Proof, error) {
	st := NewStatement(c, "", now(s.Now))
	cmd := exec.CommandContext(ctx, "sh", "-c", s.Command)
	cmd.Env = append(os.Environ(), "RUNBOOK_OIDC_NONCE="+NonceOf(st))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("RUNBOOK_OIDC_TOKEN_COMMAND failed: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	tok := strings.TrimSpace(out.String())
	if strings.Count(tok, ".") != 2 {
		return nil, fmt.Errorf("RUNBOOK_OIDC_TOKEN_COMMAND printed no ID token (want one compact JWT on standard output)")
	}
	return &Proof{Method: MethodOIDC, Statement: st, IDToken: tok}, nil
}

// Describe says where tokens come from.
func (s OIDCSigner) Describe() string { return "an OIDC ID token from RUNBOOK_OIDC_TOKEN_COMMAND" }

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

// SignerFromEnv is the CLI's signer: RUNBOOK_SIGNING_KEY (a private key
// file, or a .pub file whose key is in ssh-agent) signing as RUNBOOK_SIGNER
// (default: the name given with --as), else RUNBOOK_OIDC_TOKEN_COMMAND; nil
// when neither is set (unsigned decisions).
func SignerFromEnv(getenv func(string) string) (Signer, error) {
	if key := getenv("RUNBOOK_SIGNING_KEY"); key != "" {
		var k ssh.Signer
		var err error
		if key == "agent" {
			k, err = sshsig.SignerFromAgent(getenv("SSH_AUTH_SOCK"), nil)
		} else {
			k, err = sshsig.SignerFromFile(key)
		}
		if err != nil {
			return nil, fmt.Errorf("RUNBOOK_SIGNING_KEY: %w", err)
		}
		return SSHSigner{Principal: getenv("RUNBOOK_SIGNER"), Key: k}, nil
	}
	if cmd := getenv("RUNBOOK_OIDC_TOKEN_COMMAND"); cmd != "" {
		return OIDCSigner{Command: cmd}, nil
	}
	return nil, nil
}
