package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/runbooks"
)

// newAuditCmd groups the audit log verbs.
func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read, verify, export and prune the audit log",
		Long: "The audit log is the file $RUNBOOK_AUDIT_LOG (default <state dir>/audit.jsonl), or the PostgreSQL\n" +
			"table runbook_audit when $RUNBOOK_AUDIT_DSN or $RUNBOOK_AUDIT_DSN_FILE is set.",
	}
	cmd.AddCommand(newAuditShowCmd(a), newAuditVerifyCmd(a), newAuditExportCmd(a), newAuditPruneCmd(a), newAuditKeygenCmd(a))
	return cmd
}

// withAuditReader opens the configured log for reading, calls fn with it and
// closes it again.
func (a *app) withAuditReader(ctx context.Context, fn func(audit.Reader) error) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	r, err := audit.OpenReader(ctx, cfg.AuditLog, cfg.AuditDSN)
	if err != nil {
		return err
	}
	defer r.Close()
	return fn(r)
}

// auditFailed is the exit of an audit verb that could not read or change
// the log: the log's name and why, without the "runbook:" prefix.
func auditFailed(log fmt.Stringer, err error) error {
	return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", log, err)}
}

// auditShowCmd is `runbook audit show`.
type auditShowCmd struct {
	a      *app
	filter audit.Filter
}

func newAuditShowCmd(a *app) *cobra.Command {
	v := &auditShowCmd{a: a}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print audit records as JSON lines",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	cmd.Flags().StringVar(&v.filter.Release, "release", "", "only this release ID")
	cmd.Flags().StringVar(&v.filter.Service, "service", "", "only this service")
	return cmd
}

// run prints the records it could read, then fails if reading stopped early.
func (v *auditShowCmd) run(ctx context.Context) error {
	return v.a.withAuditReader(ctx, func(r audit.Reader) error {
		entries, err := r.Read(ctx, v.filter)
		enc := json.NewEncoder(v.a.out)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		if err != nil {
			return auditFailed(r, err)
		}
		return nil
	})
}

// auditVerifyJSON is what `audit verify --output json` prints.
type auditVerifyJSON struct {
	Log    string `json:"log"`
	Intact bool   `json:"intact"`
	audit.VerifyResult
	// Trust is what --public-key checked: signatures and the checkpoint.
	Trust *audit.TrustResult `json:"trust,omitempty"`
	Error string             `json:"error,omitempty"`
}

// auditVerifyCmd is `runbook audit verify`.
type auditVerifyCmd struct {
	a                     *app
	publicKey, checkpoint string
	temporal              bool
	output                outputFlag
}

func newAuditVerifyCmd(a *app) *cobra.Command {
	v := &auditVerifyCmd{a: a}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain of the audit log, from its anchor if it was pruned",
		Long: "verify checks that every stored record is the canonical encoding of its entry and that the hash\n" +
			"chain is intact. With --public-key it also checks each entry's signature (entries written before\n" +
			"signing was set up are counted as unsigned; an unsigned entry after a signed one is an error) and\n" +
			"that the log still reaches the signed checkpoint the worker keeps outside it, so a cut tail or an\n" +
			"emptied log is detected. For PostgreSQL that is the latest row of runbook_audit_checkpoint, and\n" +
			"--checkpoint FILE if given (the worker writes it when RUNBOOK_AUDIT_CHECKPOINT is set).",
		Example: "  runbook audit verify --public-key audit-keys.pub --checkpoint /backup/audit.jsonl.checkpoint",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	v.output.register(cmd.Flags())
	cmd.Flags().StringVar(&v.publicKey, "public-key", "", "PEM file of the trusted Ed25519 public keys: check every entry's signature and the checkpoint")
	cmd.Flags().BoolVar(&v.temporal, "temporal", false, "with --public-key, also check the checkpoint the workers record in Temporal (workflow audit-checkpoints/<log>)")
	cmd.Flags().StringVar(&v.checkpoint, "checkpoint", "", "the signed checkpoint to check the log against (default $RUNBOOK_AUDIT_CHECKPOINT or <log>.checkpoint)")
	return cmd
}

// run reports a broken chain or signature (a ChainError) as the verdict;
// any other error means the log could not be checked at all.
func (v *auditVerifyCmd) run(ctx context.Context) error {
	return v.a.withAuditReader(ctx, func(r audit.Reader) error {
		res, trust, err := v.verify(ctx, r)
		var ce *audit.ChainError
		if err != nil && !errors.As(err, &ce) {
			return auditFailed(r, err)
		}
		if v.output.json() {
			return v.writeJSON(r, res, trust, err)
		}
		if err != nil {
			return &exitError{code: 1, msg: fmt.Sprintf("%s: chain broken: %v", r, err)}
		}
		fmt.Fprintf(v.a.out, "%s: %s\n", r, res.Summary())
		if trust != nil {
			fmt.Fprintf(v.a.out, "%s: %s\n", r, trust.Summary())
		}
		return nil
	})
}

// verify checks the chain and, with --public-key, the signatures and the
// checkpoints.
func (v *auditVerifyCmd) verify(ctx context.Context, r audit.Reader) (audit.VerifyResult, *audit.TrustResult, error) {
	res, err := r.Verify(ctx)
	if err != nil || v.publicKey == "" {
		return res, nil, err
	}
	tr, err := v.checkTrust(ctx, r, res)
	if err != nil {
		return res, nil, err
	}
	return res, &tr, nil
}

// writeJSON prints the verdict as one document; a broken log exits 1
// without a message, the document says why.
func (v *auditVerifyCmd) writeJSON(r audit.Reader, res audit.VerifyResult, trust *audit.TrustResult, broken error) error {
	out := auditVerifyJSON{Log: r.String(), Intact: broken == nil, VerifyResult: res, Trust: trust}
	if broken != nil {
		out.Error = broken.Error()
	}
	if err := v.output.encode(v.a.out, out); err != nil {
		return err
	}
	if broken != nil {
		return &exitError{code: 1}
	}
	return nil
}

// auditExportCmd is `runbook audit export`: evidence for an auditor.
type auditExportCmd struct {
	a                    *app
	filter               audit.Filter
	since, until, format string
}

func newAuditExportCmd(a *app) *cobra.Command {
	v := &auditExportCmd{a: a}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export verified audit records for an auditor (JSON lines or CSV)",
		Example: "  runbook audit export --since 2026-10-01 --until 2026-11-01 --format csv > october.csv\n" +
			"  runbook audit export --since 7d --service checkout",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	fl := cmd.Flags()
	fl.StringVar(&v.since, "since", "", "from this time on: RFC 3339, a date (YYYY-MM-DD, UTC) or an age such as 30d")
	fl.StringVar(&v.until, "until", "", "before this time (same forms)")
	fl.StringVar(&v.format, "format", audit.FormatJSONL, "jsonl or csv")
	fl.StringVar(&v.filter.Release, "release", "", "only this release ID")
	fl.StringVar(&v.filter.Service, "service", "", "only this service")
	return cmd
}

func (v *auditExportCmd) run(ctx context.Context) error {
	now := time.Now()
	f := v.filter
	var err error
	if f.Since, err = parseWhen("--since", v.since, now); err != nil {
		return err
	}
	if f.Until, err = parseWhen("--until", v.until, now); err != nil {
		return err
	}
	return v.a.withAuditReader(ctx, func(r audit.Reader) error {
		n, err := audit.ExportFrom(ctx, v.a.out, r, f, v.format)
		if err != nil {
			return auditFailed(r, err)
		}
		fmt.Fprintf(v.a.errOut, "%d records exported from %s (chain verified)\n", n, r)
		return nil
	})
}

// auditPruneCmd is `runbook audit prune`: retention by hand.
type auditPruneCmd struct {
	a             *app
	before, actor string
	output        outputFlag
}

func newAuditPruneCmd(a *app) *cobra.Command {
	v := &auditPruneCmd{a: a}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove audit records older than a cut, recording the cut and the anchor in the chain",
		Long: "prune verifies the whole log, removes the records at its start that are older than --before,\n" +
			"and appends an audit.pruned record with the range removed and the anchor (seq and hash of the\n" +
			"last removed record), from which `runbook audit verify` checks the rest. Export what you must\n" +
			"keep first. A worker prunes by itself when RUNBOOK_AUDIT_RETENTION is set (e.g. 400d).",
		Example: "  runbook audit export --until 2026-01-01 > before-2026.jsonl\n  runbook audit prune --before 2026-01-01",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return v.run(cmd.Context()) },
	}
	fl := cmd.Flags()
	fl.StringVar(&v.before, "before", "", "remove records older than this: RFC 3339, a date (YYYY-MM-DD, UTC) or an age such as 400d")
	fl.StringVar(&v.actor, "as", defaultActor(), "who prunes, recorded in the audit.pruned record")
	v.output.register(fl)
	return cmd
}

func (v *auditPruneCmd) run(ctx context.Context) error {
	now := time.Now()
	cut, err := parseWhen("--before", v.before, now)
	if err != nil {
		return err
	}
	if cut.IsZero() {
		return errors.New("--before is required: the cut, e.g. --before 2026-01-01 or --before 400d")
	}
	cfg, err := v.a.config()
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.AuditLog); cfg.AuditDSN == "" && err != nil {
		return fmt.Errorf("no audit log to prune: %w (set RUNBOOK_AUDIT_LOG or RUNBOOK_AUDIT_DSN)", err)
	}
	s, err := audit.OpenStore(ctx, cfg.AuditLog, cfg.AuditDSN, cfg.AuditKeys)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("nothing pruned: %v", err)}
	}
	defer s.Close()
	res, err := s.Prune(ctx, audit.PruneInput{Before: cut, Actor: v.actor, Now: now})
	if err != nil {
		return auditFailed(s, err)
	}
	return v.output.write(v.a.out, res, func() error {
		fmt.Fprintf(v.a.out, "%s: %s\n", s, res.Summary())
		return nil
	})
}

// parseWhen reads a time bound: RFC 3339, a date, or an age before now.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := runbooks.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-time.Duration(d)), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: use RFC 3339 (2026-11-01T09:00:00Z), a date (2026-11-01) or an age (30d, 12h)", flag, s)
}
