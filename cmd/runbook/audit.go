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

// auditReader opens the configured log for reading.
func (a *app) auditReader(ctx context.Context) (audit.Reader, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	return audit.OpenReader(ctx, cfg.AuditLog, cfg.AuditDSN)
}

func newAuditShowCmd(a *app) *cobra.Command {
	var f audit.Filter
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print audit records as JSON lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.auditReader(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close()
			entries, err := r.Read(cmd.Context(), f)
			enc := json.NewEncoder(a.out)
			for _, e := range entries {
				if err := enc.Encode(e); err != nil {
					return err
				}
			}
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", r, err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.Release, "release", "", "only this release ID")
	cmd.Flags().StringVar(&f.Service, "service", "", "only this service")
	return cmd
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

func newAuditVerifyCmd(a *app) *cobra.Command {
	var publicKey, checkpoint string
	var output outputFlag
	var temporal bool
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.auditReader(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close()
			res, err := r.Verify(cmd.Context())
			var ce *audit.ChainError
			if err != nil && !errors.As(err, &ce) {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", r, err)}
			}
			var trust *audit.TrustResult
			if err == nil && publicKey != "" {
				var tr audit.TrustResult
				if tr, err = a.checkTrust(cmd.Context(), r, res, publicKey, checkpoint, temporal); err == nil {
					trust = &tr
				} else if !errors.As(err, &ce) {
					return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", r, err)}
				}
			}
			if output.json() {
				out := auditVerifyJSON{Log: r.String(), Intact: err == nil, VerifyResult: res, Trust: trust}
				if err != nil {
					out.Error = err.Error()
				}
				if jerr := output.encode(a.out, out); jerr != nil {
					return jerr
				}
				if err != nil {
					return &exitError{code: 1}
				}
				return nil
			}
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: chain broken: %v", r, err)}
			}
			fmt.Fprintf(a.out, "%s: %s\n", r, res.Summary())
			if trust != nil {
				fmt.Fprintf(a.out, "%s: %s\n", r, trust.Summary())
			}
			return nil
		},
	}
	output.register(cmd.Flags())
	cmd.Flags().StringVar(&publicKey, "public-key", "", "PEM file of the trusted Ed25519 public keys: check every entry's signature and the checkpoint")
	cmd.Flags().BoolVar(&temporal, "temporal", false, "with --public-key, also check the checkpoint the workers record in Temporal (workflow audit-checkpoints/<log>)")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "the signed checkpoint to check the log against (default $RUNBOOK_AUDIT_CHECKPOINT or <log>.checkpoint)")
	return cmd
}

// newAuditExportCmd builds `runbook audit export`: evidence for an auditor.
func newAuditExportCmd(a *app) *cobra.Command {
	var f audit.Filter
	var since, until, format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export verified audit records for an auditor (JSON lines or CSV)",
		Example: "  runbook audit export --since 2026-10-01 --until 2026-11-01 --format csv > october.csv\n" +
			"  runbook audit export --since 7d --service checkout",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var err error
			if f.Since, err = parseWhen("--since", since, now); err != nil {
				return err
			}
			if f.Until, err = parseWhen("--until", until, now); err != nil {
				return err
			}
			r, err := a.auditReader(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := audit.ExportFrom(cmd.Context(), a.out, r, f, format)
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", r, err)}
			}
			fmt.Fprintf(a.errOut, "%d records exported from %s (chain verified)\n", n, r)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "from this time on: RFC 3339, a date (YYYY-MM-DD, UTC) or an age such as 30d")
	fl.StringVar(&until, "until", "", "before this time (same forms)")
	fl.StringVar(&format, "format", audit.FormatJSONL, "jsonl or csv")
	fl.StringVar(&f.Release, "release", "", "only this release ID")
	fl.StringVar(&f.Service, "service", "", "only this service")
	return cmd
}

// newAuditPruneCmd builds `runbook audit prune`: retention by hand.
func newAuditPruneCmd(a *app) *cobra.Command {
	var before, actor string
	var output outputFlag
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove audit records older than a cut, recording the cut and the anchor in the chain",
		Long: "prune verifies the whole log, removes the records at its start that are older than --before,\n" +
			"and appends an audit.pruned record with the range removed and the anchor (seq and hash of the\n" +
			"last removed record), from which `runbook audit verify` checks the rest. Export what you must\n" +
			"keep first. A worker prunes by itself when RUNBOOK_AUDIT_RETENTION is set (e.g. 400d).",
		Example: "  runbook audit export --until 2026-01-01 > before-2026.jsonl\n  runbook audit prune --before 2026-01-01",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			cut, err := parseWhen("--before", before, now)
			if err != nil {
				return err
			}
			if cut.IsZero() {
				return errors.New("--before is required: the cut, e.g. --before 2026-01-01 or --before 400d")
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if _, err := os.Stat(cfg.AuditLog); cfg.AuditDSN == "" && err != nil {
				return fmt.Errorf("no audit log to prune: %w (set RUNBOOK_AUDIT_LOG or RUNBOOK_AUDIT_DSN)", err)
			}
			s, err := audit.OpenStore(cmd.Context(), cfg.AuditLog, cfg.AuditDSN, cfg.AuditKeys)
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("nothing pruned: %v", err)}
			}
			defer s.Close()
			res, err := s.Prune(cmd.Context(), audit.PruneInput{Before: cut, Actor: actor, Now: now})
			if err != nil {
				return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", s, err)}
			}
			return output.write(a.out, res, func() error {
				fmt.Fprintf(a.out, "%s: %s\n", s, res.Summary())
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&before, "before", "", "remove records older than this: RFC 3339, a date (YYYY-MM-DD, UTC) or an age such as 400d")
	fl.StringVar(&actor, "as", defaultActor(), "who prunes, recorded in the audit.pruned record")
	output.register(fl)
	return cmd
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
