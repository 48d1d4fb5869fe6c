package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/worker"
)

// checkTrust checks, for `audit verify --public-key`, the signature of every
// entry of a log whose chain verified with res, and that the log reaches its
// checkpoints: --checkpoint if given, else the configured one of a file
// log; for PostgreSQL the latest row of runbook_audit_checkpoint as well. A
// missing checkpoint is an error for a file log, and for a database whose
// last entry is signed: without it a cut tail or an emptied log would pass.
func (v *auditVerifyCmd) checkTrust(ctx context.Context, r audit.Reader, res audit.VerifyResult) (audit.TrustResult, error) {
	keys, err := audit.LoadPublicKeys(v.publicKey)
	if err != nil {
		return audit.TrustResult{}, fmt.Errorf("--public-key: %w", err)
	}
	cfg, err := v.a.config()
	if err != nil {
		return audit.TrustResult{}, err
	}
	trust := audit.Trust{Keys: keys, CheckpointPath: v.checkpoint}
	if trust.CheckpointPath == "" && cfg.AuditDSN == "" {
		trust.CheckpointPath = cfg.AuditKeys.Checkpoint
		if trust.CheckpointPath == "" {
			trust.CheckpointPath = audit.DefaultCheckpoint(cfg.AuditLog)
		}
	}
	if trust.CheckpointPath != "" {
		cp, err := audit.ReadCheckpoint(trust.CheckpointPath)
		if errors.Is(err, fs.ErrNotExist) {
			return audit.TrustResult{}, fmt.Errorf("no checkpoint at %s: without it a cut tail or an emptied log cannot be detected; pass --checkpoint FILE (the worker writes it when %s is set)",
				trust.CheckpointPath, audit.EnvKeyFile)
		}
		if err != nil {
			return audit.TrustResult{}, err
		}
		trust.Checkpoint = &cp
	}
	entries, err := r.Read(ctx, audit.Filter{})
	if err != nil {
		return audit.TrustResult{}, err
	}
	if pg, ok := r.(*audit.Postgres); ok {
		if err := tableCheckpoint(ctx, pg, entries, &trust); err != nil {
			return audit.TrustResult{}, err
		}
	}
	if v.temporal {
		at, err := temporalCheckpoint(ctx, cfg)
		if err != nil {
			return audit.TrustResult{}, err
		}
		trust.Also = append(trust.Also, at)
	}
	return audit.VerifyTrust(entries, res, trust)
}

// temporalCheckpoint reads the checkpoint the log's AuditCheckpoints
// workflow recorded, which --temporal requires.
func temporalCheckpoint(ctx context.Context, cfg worker.Config) (audit.CheckpointAt, error) {
	id, err := audit.LogID(cfg.AuditLog, cfg.AuditDSN)
	if err != nil {
		return audit.CheckpointAt{}, err
	}
	id = audit.CheckpointsWorkflowID(id)
	c, err := worker.Dial(ctx, cfg)
	if err != nil {
		return audit.CheckpointAt{}, err
	}
	defer c.Close()
	w, err := audit.QueryWitness(ctx, c, id)
	if err == nil && w.Latest == nil {
		err = errors.New("it holds no checkpoint")
	}
	if err != nil {
		return audit.CheckpointAt{}, fmt.Errorf("--temporal: the checkpoint of workflow %s: %w (a signing worker records it; see %s)", id, err, audit.EnvTemporalCheckpoint)
	}
	return audit.CheckpointAt{Checkpoint: *w.Latest, Where: "Temporal workflow " + id}, nil
}

// tableCheckpoint adds the latest checkpoint of runbook_audit_checkpoint to
// trust. None is an error if the log ends with a signed entry: its
// checkpoints were deleted, maybe with entries cut from its end.
func tableCheckpoint(ctx context.Context, pg *audit.Postgres, entries []audit.Entry, trust *audit.Trust) error {
	cp, err := pg.Checkpoint(ctx)
	if err != nil {
		return err
	}
	if cp != nil {
		trust.Also = append(trust.Also, audit.CheckpointAt{Checkpoint: *cp, Where: audit.PGCheckpointTable})
		return nil
	}
	if n := len(entries); n > 0 && entries[n-1].KeyID != "" {
		return &audit.ChainError{Seq: entries[n-1].Seq, Reason: fmt.Sprintf("the log ends with a signed entry but %s holds no checkpoint: its checkpoints were deleted, "+
			"maybe with entries cut from the end; check it against a checkpoint kept elsewhere with --checkpoint", audit.PGCheckpointTable)}
	}
	return nil
}

// auditKeygenCmd is `runbook audit keygen`: the worker's signing key.
type auditKeygenCmd struct {
	a        *app
	key, pub string
}

func newAuditKeygenCmd(a *app) *cobra.Command {
	v := &auditKeygenCmd{a: a}
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create the worker's Ed25519 audit signing key and its public key",
		Long: "keygen writes a new Ed25519 private key (PEM, PKCS #8, mode 0600; it must not exist yet) for the\n" +
			"worker's RUNBOOK_AUDIT_KEY_FILE, and its public key for `runbook audit verify --public-key`.\n" +
			"To rotate, give the worker the new key and append the new public key to the public key file.",
		Example: "  runbook audit keygen --key /etc/runbook/audit-key.pem --public audit-keys.pub",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return v.run() },
	}
	cmd.Flags().StringVar(&v.key, "key", "audit-key.pem", "where to write the private key")
	cmd.Flags().StringVar(&v.pub, "public", "audit-key.pub", "where to write the public key")
	return cmd
}

func (v *auditKeygenCmd) run() error {
	id, err := audit.GenerateKey(v.key, v.pub)
	if err != nil {
		return err
	}
	fmt.Fprintf(v.a.out, "key %s: private key %s, public key %s\n", id, v.key, v.pub)
	return nil
}
