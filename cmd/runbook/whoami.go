package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/identity"
)

// whoamiCmd is `runbook whoami`: how the CLI signs, and whether a worker
// with a given allowed-signers file would accept it — the check to run
// after setting up a key, before a gate is waiting.
type whoamiCmd struct {
	a           *app
	as, signers string
}

func newWhoamiCmd(a *app) *cobra.Command {
	v := &whoamiCmd{a: a}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Say how the CLI signs decisions, and check a signature against an allowed-signers file",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&v.as, "as", defaultActor(), "the name to sign as when RUNBOOK_SIGNER is unset")
	cmd.Flags().StringVar(&v.signers, "allowed-signers", "", "check the signature against this allowed-signers file (the worker's RUNBOOK_ALLOWED_SIGNERS)")
	return cmd
}

func (v *whoamiCmd) run(ctx context.Context) error {
	s, err := identity.SignerFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if s == nil {
		fmt.Fprintf(v.a.out, "%s, unsigned: set RUNBOOK_SIGNING_KEY (and RUNBOOK_SIGNER) or RUNBOOK_OIDC_TOKEN_COMMAND to sign; "+
			"environments with identity: signed refuse unsigned decisions\n", v.as)
		return nil
	}
	claim := identity.Claim{Action: "whoami", Workflow: "whoami"}
	p, err := s.Sign(ctx, claim, v.as)
	if err != nil {
		return err
	}
	fmt.Fprintf(v.a.out, "signs as %s with %s\n", p.Statement.Signer, s.Describe())
	if v.signers == "" {
		return nil
	}
	return v.check(ctx, p, claim)
}

// check verifies a fresh signature the way a worker's validator would.
func (v *whoamiCmd) check(ctx context.Context, p *identity.Proof, c identity.Claim) error {
	roots, err := identity.Load(ctx, identity.Config{AllowedSignersFile: v.signers})
	if err != nil {
		return err
	}
	ver, err := roots.Verifier()
	if err != nil {
		return err
	}
	id, err := ver.Verify(p, c, time.Now())
	if err != nil {
		return fmt.Errorf("a worker with %s would refuse your decisions: %w", v.signers, err)
	}
	fmt.Fprintf(v.a.out, "a worker with %s accepts it: %s\n", v.signers, id)
	return nil
}
