package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/identity"
)

// newWhoamiCmd builds `runbook whoami`: how the CLI signs, and whether a
// worker with a given allowed-signers file would accept it — the check to
// run after setting up a key, before a gate is waiting.
func newWhoamiCmd(a *app) *cobra.Command {
	var as, signers string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Say how the CLI signs decisions, and check a signature against an allowed-signers file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := identity.SignerFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			if s == nil {
				fmt.Fprintf(a.out, "%s, unsigned: set RUNBOOK_SIGNING_KEY (and RUNBOOK_SIGNER) or RUNBOOK_OIDC_TOKEN_COMMAND to sign; "+
					"environments with identity: signed refuse unsigned decisions\n", as)
				return nil
			}
			claim := identity.Claim{Action: "whoami", Workflow: "whoami"}
			p, err := s.Sign(cmd.Context(), claim, as)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "signs as %s with %s\n", p.Statement.Signer, s.Describe())
			if signers == "" {
				return nil
			}
			return checkWhoami(a, p, claim, signers)
		},
	}
	cmd.Flags().StringVar(&as, "as", defaultActor(), "the name to sign as when RUNBOOK_SIGNER is unset")
	cmd.Flags().StringVar(&signers, "allowed-signers", "", "check the signature against this allowed-signers file (the worker's RUNBOOK_ALLOWED_SIGNERS)")
	return cmd
}

// checkWhoami verifies a fresh signature the way a worker's validator would.
func checkWhoami(a *app, p *identity.Proof, c identity.Claim, signers string) error {
	roots, err := identity.Load(context.Background(), identity.Config{AllowedSignersFile: signers})
	if err != nil {
		return err
	}
	v, err := roots.Verifier()
	if err != nil {
		return err
	}
	id, err := v.Verify(p, c, time.Now())
	if err != nil {
		return fmt.Errorf("a worker with %s would refuse your decisions: %w", signers, err)
	}
	fmt.Fprintf(a.out, "a worker with %s accepts it: %s\n", signers, id)
	return nil
}
