package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCheckpointSchema creates the table of signed checkpoints. It lives beside
// runbook_audit but is a second table for a reason: a signing worker inserts
// a checkpoint (the seq and hash of the log's last entry, signed) in the same
// transaction as every entry, and the worker's role may INSERT and SELECT
// here but never UPDATE or DELETE. Someone who cuts entries off the end of
// runbook_audit (only its owner can, by disabling its trigger) must then also
// know to cut this table, or verification names the checkpoint the log no
// longer reaches. Against the owner, keep a checkpoint outside the database
// as well (RUNBOOK_AUDIT_CHECKPOINT, or Temporal).
const pgCheckpointSchema = `
CREATE TABLE runbook_audit_checkpoint (
	seq    bigint      PRIMARY KEY CHECK (seq > 0),
	hash   text        NOT NULL CHECK (length(hash) = 64),
	time   timestamptz NOT NULL,
	key_id text        NOT NULL,
	sig    text        NOT NULL
);
COMMENT ON TABLE runbook_audit_checkpoint IS
	'runbook audit checkpoints: the signed seq and hash of the last entry after each signed append; append-only. runbook audit verify --public-key checks that runbook_audit still reaches the latest.';

CREATE FUNCTION runbook_audit_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	RAISE EXCEPTION 'runbook_audit_checkpoint is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'a checkpoint removed would hide entries cut from the end of runbook_audit';
END
$fn$;
CREATE TRIGGER runbook_audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON runbook_audit_checkpoint
	FOR EACH ROW EXECUTE FUNCTION runbook_audit_checkpoint_append_only();
CREATE TRIGGER runbook_audit_checkpoint_no_truncate BEFORE TRUNCATE ON runbook_audit_checkpoint
	FOR EACH STATEMENT EXECUTE FUNCTION runbook_audit_checkpoint_append_only();
`

// PGCheckpointTable is the table of signed checkpoints, as messages name it.
const PGCheckpointTable = "runbook_audit_checkpoint"

// pgSchemaState is what ensureSchema found (or made): which parts of the
// current schema the database has.
type pgSchemaState struct {
	// guarded: runbook_audit_settings and the prune's minimum age exist.
	guarded bool
	// signed: runbook_audit has the key_id and sig columns.
	signed bool
	// checkpoints: runbook_audit_checkpoint exists.
	checkpoints bool
}

// current reports whether nothing is missing.
func (s pgSchemaState) current() bool { return s.guarded && s.signed && s.checkpoints }

// missing names what an older schema lacks, for ErrSchemaOutdated.
func (s pgSchemaState) missing() string {
	switch {
	case !s.guarded:
		return "runbook_audit_settings (the prune function enforces no minimum age)"
	case !s.signed:
		return "the key_id and sig columns (rows cannot be signed)"
	}
	return "the table " + PGCheckpointTable + " (no checkpoint can be kept)"
}

// pgStateQuery reads pgSchemaState.
const pgStateQuery = `SELECT to_regclass('runbook_audit_settings') IS NOT NULL,
	EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass('runbook_audit') AND a.attname = 'sig' AND NOT a.attisdropped),
	to_regclass('runbook_audit_checkpoint') IS NOT NULL`

// pgUpgrade returns the statements that bring an older table of schema,
// owned by owner, to the current schema: run by a role allowed to own it.
// Objects it creates are handed to the table's owner, and the roles that
// may INSERT into runbook_audit (the workers) may INSERT and SELECT
// checkpoints.
func pgUpgrade(st pgSchemaState, schema, owner string) string {
	own := pgx.Identifier{owner}.Sanitize()
	sql := "SET LOCAL search_path = " + pgx.Identifier{schema}.Sanitize() + ";"
	if !st.guarded {
		// The settings belong to the table's owner, whom the SECURITY
		// DEFINER prune function runs as (a replaced function keeps its owner).
		sql += fillSchema(pgGuards, schema) + "ALTER TABLE runbook_audit_settings OWNER TO " + own + ";"
	}
	if !st.signed {
		sql += "ALTER TABLE runbook_audit ADD COLUMN key_id text NOT NULL DEFAULT '', ADD COLUMN sig text NOT NULL DEFAULT '';"
	}
	if !st.checkpoints {
		sql += pgCheckpointSchema + "ALTER TABLE runbook_audit_checkpoint OWNER TO " + own + ";" +
			"ALTER FUNCTION runbook_audit_checkpoint_append_only() OWNER TO " + own + ";" + pgGrantCheckpoints
	}
	return sql
}

// pgGrantCheckpoints lets every role granted INSERT on runbook_audit
// (other than its owner) insert and read checkpoints.
const pgGrantCheckpoints = `
DO $do$
DECLARE r regrole;
BEGIN
	FOR r IN SELECT DISTINCT a.grantee::regrole FROM pg_class c, aclexplode(c.relacl) a
	          WHERE c.oid = 'runbook_audit'::regclass AND a.privilege_type = 'INSERT'
	            AND a.grantee <> c.relowner AND a.grantee <> 0 LOOP
		EXECUTE format('GRANT SELECT, INSERT ON runbook_audit_checkpoint TO %s', r);
	END LOOP;
END
$do$;
`

// Checkpoint returns the latest signed checkpoint in runbook_audit_checkpoint,
// nil if there is none (or the table predates checkpoints). Its signature is
// not checked here: Checkpoint.Verify does that with the trusted keys.
func (p *Postgres) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	if !p.state.checkpoints {
		return nil, nil
	}
	cp, err := latestCheckpoint(ctx, p.pool)
	if err != nil {
		return nil, p.wrap("read the checkpoint of", err)
	}
	return cp, nil
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// latestCheckpoint reads the checkpoint with the highest seq, nil if none.
func latestCheckpoint(ctx context.Context, q rowQuerier) (*Checkpoint, error) {
	var cp Checkpoint
	err := q.QueryRow(ctx, "SELECT seq, hash, time, key_id, sig FROM runbook_audit_checkpoint ORDER BY seq DESC LIMIT 1").
		Scan(&cp.Seq, &cp.Hash, &cp.Time, &cp.KeyID, &cp.Sig)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	cp.Time = cp.Time.UTC()
	return &cp, err
}

// insertCheckpoint signs a checkpoint at the log's tail and inserts it, in
// the append's transaction: the entry and its checkpoint commit together.
func insertCheckpoint(ctx context.Context, tx pgx.Tx, s *Signer, seq int64, hash string) (Checkpoint, error) {
	cp := s.SignCheckpoint(seq, hash, time.Now())
	_, err := tx.Exec(ctx, "INSERT INTO runbook_audit_checkpoint (seq, hash, time, key_id, sig) VALUES ($1, $2, $3, $4, $5)",
		cp.Seq, cp.Hash, cp.Time, cp.KeyID, cp.Sig)
	return cp, err
}

// tableReaches checks, under the append lock, that runbook_audit still
// reaches cp (kept at where): it holds cp.Seq with cp's hash, or was pruned
// past it. The full chain was verified when the store opened; this catches
// a cut since then before an append reuses a cut seq.
func tableReaches(ctx context.Context, tx pgx.Tx, cp Checkpoint, where string) error {
	var c chain
	var atCp string
	err := tx.QueryRow(ctx, `SELECT
		coalesce((SELECT seq FROM runbook_audit ORDER BY seq DESC LIMIT 1), 0),
		coalesce((SELECT hash FROM runbook_audit ORDER BY seq DESC LIMIT 1), ''),
		coalesce((SELECT seq FROM runbook_audit ORDER BY seq LIMIT 1), 0),
		coalesce((SELECT prev FROM runbook_audit ORDER BY seq LIMIT 1), ''),
		coalesce((SELECT hash FROM runbook_audit WHERE seq = $1), '')`, cp.Seq).Scan(&c.seq, &c.head, &c.first, &c.firstPrev, &atCp)
	if err != nil {
		return err
	}
	return cp.reaches(&c, func(int64) (string, bool) { return atCp, atCp != "" }, where)
}

// checkCheckpoints is run by a signing store under the append lock before
// it appends: the table must reach the latest checkpoint in
// runbook_audit_checkpoint and in the checkpoint file, if one is configured.
// A table whose tail is signed but that has no checkpoint lost them, maybe
// together with entries cut off its end; starting over would bless the cut.
func (p *Postgres) checkCheckpoints(ctx context.Context, tx pgx.Tx, tail Entry) error {
	cp, err := latestCheckpoint(ctx, tx)
	if err != nil {
		return err
	}
	if cp == nil && tail.KeyID != "" {
		return &ChainError{Seq: tail.Seq, Reason: fmt.Sprintf("the log ends with a signed entry but %s is empty: its checkpoints were deleted, "+
			"maybe with entries cut from the end; check the log with `runbook audit verify --public-key --checkpoint` against a checkpoint kept elsewhere", PGCheckpointTable)}
	}
	if cp != nil {
		if err := tableReaches(ctx, tx, *cp, PGCheckpointTable); err != nil {
			return err
		}
	}
	if p.signing.Checkpoint == "" {
		return nil
	}
	fcp, err := ReadCheckpoint(p.signing.Checkpoint)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // written after this append
	case err != nil:
		return err
	}
	return tableReaches(ctx, tx, fcp, p.signing.Checkpoint)
}

// afterAppend, for a signing store, writes the checkpoint file once the
// append committed. Its failure is logged, not returned: the entry and its
// checkpoint row are committed, and the next append rewrites the file.
func (p *Postgres) afterAppend(cp Checkpoint) {
	if p.signing.Signer == nil || p.signing.Checkpoint == "" || cp.Seq == 0 {
		return
	}
	if err := p.signing.Signer.writeCheckpoint(p.signing.Checkpoint, cp.Seq, cp.Hash, cp.Time); err != nil {
		slog.Warn("audit database: the checkpoint file was not updated; the next append retries", "log", p.name, "error", err)
	}
}

// syncCheckpoints is run when a signing store opens: it checks the table
// against its checkpoints and, if entries were appended since the latest
// (by a worker that does not sign), checkpoints the tail.
func (p *Postgres) syncCheckpoints(ctx context.Context) error {
	var cp Checkpoint
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", appendLockKey); err != nil {
			return err
		}
		tail, _, err := p.queryEntry(ctx, tx, "ORDER BY seq DESC LIMIT 1")
		if err != nil {
			return err
		}
		if err := p.checkCheckpoints(ctx, tx, tail); err != nil || tail.Seq == 0 {
			return err
		}
		last, err := latestCheckpoint(ctx, tx)
		if err != nil {
			return err
		}
		if last != nil && last.Seq >= tail.Seq {
			cp = *last // for the checkpoint file
			return nil
		}
		cp, err = insertCheckpoint(ctx, tx, p.signing.Signer, tail.Seq, tail.Hash)
		return err
	})
	if err != nil {
		return p.wrap("check the checkpoints of", err)
	}
	p.afterAppend(cp)
	return nil
}
