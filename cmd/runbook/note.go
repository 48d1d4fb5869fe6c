package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/internal/identity"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/report"
)

// noteCmd is `runbook note`: a retrospective note on a release, written to
// the audit log directly, so it needs neither the release's workflow nor a
// worker (the release may have ended long ago).
type noteCmd struct {
	a     *app
	as    string
	links []string
}

func newNoteCmd(a *app) *cobra.Command {
	v := &noteCmd{a: a}
	cmd := &cobra.Command{
		Use:   "note RELEASE TEXT",
		Short: "Attach a retrospective note and links (incident, ticket, feedback) to a release, in the audit log",
		Long: "note appends a release.note record to the audit log: who wrote it, when, the text and the links. It\n" +
			"appears in `runbook report` and `runbook audit show`. The author is verified like a CLI decision: with\n" +
			"RUNBOOK_SIGNING_KEY (or RUNBOOK_OIDC_TOKEN_COMMAND) the note is signed and checked against the trust\n" +
			"roots in this environment (RUNBOOK_ALLOWED_SIGNERS, RUNBOOK_OIDC_*); otherwise it is recorded as unsigned.",
		Example: `  runbook note checkout/3.0.0 "Breach was the cache warm-up, see INC-412" --link https://incidents.example/INC-412`,
		Args:    cobra.ExactArgs(2),
		RunE:    func(cmd *cobra.Command, args []string) error { return v.run(cmd.Context(), args[0], args[1]) },
	}
	cmd.Flags().StringArrayVar(&v.links, "link", nil, "an http(s) link to attach (repeatable)")
	cmd.Flags().StringVar(&v.as, "as", defaultActor(), "who writes the note (a signature's verified name wins)")
	return cmd
}

func (v *noteCmd) run(ctx context.Context, id, text string) error {
	id = releases.NormalizeID(id)
	for _, l := range v.links {
		if err := report.CheckLink(l); err != nil {
			return err
		}
	}
	cfg, err := v.a.config()
	if err != nil {
		return err
	}
	actor, how, err := v.identify(ctx, id, text, cfg.Trust)
	if err != nil {
		return err
	}
	s, err := audit.OpenStore(ctx, cfg.AuditLog, cfg.AuditDSN, cfg.AuditKeys)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("note not recorded: %v", err)}
	}
	defer s.Close()
	known, err := s.Read(ctx, audit.Filter{Release: id})
	if err != nil {
		return auditFailed(s, err)
	}
	if len(known) == 0 {
		return fmt.Errorf("%s has no release %s: check the ID (runbook list) and that RUNBOOK_AUDIT_LOG or RUNBOOK_AUDIT_DSN names the worker's log", s, id)
	}
	e, err := report.NoteEntry(report.NoteInput{Release: id, Service: known[0].Service, Version: known[0].Version,
		Text: text, Links: v.links, Actor: actor, Identity: how, Time: time.Now()})
	if err != nil {
		return err
	}
	got, err := s.Append(ctx, e)
	if err != nil {
		return auditFailed(s, err)
	}
	fmt.Fprintf(v.a.out, "note by %s (%s) recorded on %s: audit entry %d, hash %s\n", actor, how, id, got.Seq, got.Hash)
	return nil
}

// identify signs the note when the CLI can sign and verifies the
// signature against the trust roots configured here, as a worker checks
// a decision; the identity recorded is what was verified, else "unsigned".
func (v *noteCmd) identify(ctx context.Context, id, text string, trust identity.Config) (string, string, error) {
	signer, err := identity.SignerFromEnv(os.Getenv)
	if err != nil || signer == nil {
		return v.as, identity.MethodUnsigned, err
	}
	claim := identity.Claim{Action: report.ActionNote, Workflow: id, Comment: text}
	p, err := signer.Sign(ctx, claim, v.as)
	if err != nil {
		return "", "", fmt.Errorf("sign the note: %w", err)
	}
	roots, err := identity.Load(ctx, trust)
	if err != nil {
		return "", "", err
	}
	if !roots.Configured() {
		return v.as, identity.MethodUnsigned, nil
	}
	ver, err := roots.Verifier()
	if err != nil {
		return "", "", err
	}
	who, err := ver.Verify(p, claim, time.Now())
	if err != nil {
		return "", "", fmt.Errorf("your signature does not verify against the trust roots here: %w", err)
	}
	return who.Name, who.Method + " " + who.Key, nil
}
