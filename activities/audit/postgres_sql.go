package audit

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// appendLockKey is the pg_advisory_xact_lock key that serialises appends and
// prunes across every process writing to the database ("runbooka").
const appendLockKey int64 = 0x72756e626f6f6b61

// pgColumns are the columns of a row, in the order rowScan reads them.
const pgColumns = `seq, id, time, actor, action, release, service, environment, version, step, outcome, detail,
	channel, digest, commit, break_glass, prev, hash, canonical, key_id, sig`

// pgColumnsUnsigned reads a table made before rows were signed as if its
// key_id and sig were empty, so an older table can still be read and verified.
const pgColumnsUnsigned = `seq, id, time, actor, action, release, service, environment, version, step, outcome, detail,
	channel, digest, commit, break_glass, prev, hash, canonical, '' AS key_id, '' AS sig`

// pgSchema creates the table, the trigger that keeps it append-only and the
// one function allowed to delete from it. canonical holds the exact bytes the
// hash covers (the entry's JSON with the hash blank): verification re-hashes
// them and checks that every column agrees with them, so the columns can be
// queried while the record itself stays tamper-evident. key_id (also in the
// record) and sig hold the worker's signature of the hash; rows written
// before signing have them empty. runbook_audit_checkpoint (see
// pgCheckpointSchema) holds the signed checkpoints.
//
// Deleting needs both the DELETE privilege and the transaction-local setting
// runbook.audit_prune, which only runbook_audit_prune sets, after checking
// that the chain already records the prune. In a team set-up the table and the
// function belong to an owner role; the worker's role gets SELECT and INSERT
// on the table and EXECUTE on the function (SECURITY DEFINER) and nothing else:
//
//	GRANT SELECT, INSERT ON runbook_audit TO runbook_worker;
//	GRANT SELECT, INSERT ON runbook_audit_checkpoint TO runbook_worker;
//	GRANT EXECUTE ON FUNCTION runbook_audit_prune(bigint, bigint, text, timestamptz) TO runbook_worker;
//
// Someone who owns the table can still disable the trigger; verification
// catches what they change. That is why the worker refuses to run as the
// owner (see checkWorkerRole) and deploy/postgres creates both roles.
//
// runbook_audit_settings holds the minimum age of a cut, which the prune
// function enforces itself: a worker whose credentials leak can append and
// prune, but never remove entries younger than min_age. Only the owner can
// change it. The function's search_path names the table's schema and puts
// pg_temp last, so a temporary table cannot stand in for the real ones.
//
// {{schema}} is the schema the tables are created in (quoted), public for
// deploy/postgres; pgSchemaIn fills it in.
const pgSchema = `
CREATE TABLE runbook_audit (
	seq         bigint      PRIMARY KEY CHECK (seq > 0),
	id          text        NOT NULL UNIQUE,
	time        timestamptz NOT NULL,
	actor       text        NOT NULL,
	action      text        NOT NULL,
	release     text        NOT NULL,
	service     text        NOT NULL,
	environment text        NOT NULL,
	version     text        NOT NULL,
	step        text        NOT NULL,
	outcome     text        NOT NULL,
	detail      text        NOT NULL,
	channel     text        NOT NULL,
	digest      text        NOT NULL,
	commit      text        NOT NULL,
	break_glass boolean     NOT NULL,
	prev        text        NOT NULL,
	hash        text        NOT NULL,
	canonical   text        NOT NULL,
	key_id      text        NOT NULL DEFAULT '',
	sig         text        NOT NULL DEFAULT ''
);
CREATE INDEX runbook_audit_time ON runbook_audit (time);
CREATE INDEX runbook_audit_release ON runbook_audit (release);
COMMENT ON TABLE runbook_audit IS
	'runbook audit log: append-only and hash-chained; canonical is the JSON each hash covers. Verify with runbook audit verify; remove old entries only with runbook audit prune.';

CREATE FUNCTION runbook_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP = 'DELETE' AND current_setting('runbook.audit_prune', true) = 'on' THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'runbook_audit is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege',
		      HINT = 'old entries are removed only by runbook audit prune, which records the cut in the chain';
END
$fn$;
CREATE TRIGGER runbook_audit_append_only BEFORE UPDATE OR DELETE ON runbook_audit
	FOR EACH ROW EXECUTE FUNCTION runbook_audit_append_only();
CREATE TRIGGER runbook_audit_no_truncate BEFORE TRUNCATE ON runbook_audit
	FOR EACH STATEMENT EXECUTE FUNCTION runbook_audit_append_only();
` + pgCheckpointSchema + pgGuards

// pgGuards creates the settings and (re)creates the prune function: all of
// pgSchema a table made before runbook_audit_settings existed lacks, which
// upgradeSchema adds.
const pgGuards = `
CREATE TABLE runbook_audit_settings (
	one     boolean  PRIMARY KEY DEFAULT true CHECK (one),
	min_age interval NOT NULL DEFAULT interval '30 days' CHECK (min_age >= interval '1 day')
);
INSERT INTO runbook_audit_settings DEFAULT VALUES;
COMMENT ON TABLE runbook_audit_settings IS
	'runbook audit settings (one row): min_age is the youngest cut runbook_audit_prune accepts; only the owner may change it.';

CREATE OR REPLACE FUNCTION runbook_audit_prune(p_from bigint, p_to bigint, p_anchor text, p_cut timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {{schema}}, pg_temp AS $fn$
DECLARE
	tail runbook_audit%ROWTYPE;
	rec  jsonb;
	n    bigint;
	v_min_age interval;
BEGIN
	PERFORM pg_advisory_xact_lock({{lock}});
	SELECT * INTO tail FROM runbook_audit ORDER BY seq DESC LIMIT 1;
	IF NOT FOUND OR tail.action <> 'audit.pruned'
	   OR encode(sha256(convert_to(tail.canonical, 'UTF8')), 'hex') <> tail.hash THEN
		RAISE EXCEPTION 'runbook_audit_prune: the last entry must be the audit.pruned entry recording this prune';
	END IF;
	rec := tail.canonical::jsonb -> 'pruned';
	IF (rec->>'from_seq')::bigint IS DISTINCT FROM p_from OR (rec->>'to_seq')::bigint IS DISTINCT FROM p_to
	   OR rec->>'anchor_hash' IS DISTINCT FROM p_anchor OR (rec->>'before')::timestamptz IS DISTINCT FROM p_cut THEN
		RAISE EXCEPTION 'runbook_audit_prune: the audit.pruned entry records another prune';
	END IF;
	IF p_cut > now() THEN
		RAISE EXCEPTION 'runbook_audit_prune: the cut % is in the future', p_cut;
	END IF;
	SELECT s.min_age INTO v_min_age FROM runbook_audit_settings s;
	IF v_min_age IS NULL OR p_cut > now() - v_min_age THEN
		RAISE EXCEPTION 'runbook_audit_prune: the cut % is younger than the minimum age % (runbook_audit_settings.min_age)', p_cut, v_min_age
			USING ERRCODE = 'insufficient_privilege',
			      HINT = 'choose an older cut; only the owner of runbook_audit can lower min_age';
	END IF;
	IF (SELECT min(a.seq) FROM runbook_audit a) IS DISTINCT FROM p_from
	   OR NOT EXISTS (SELECT 1 FROM runbook_audit a WHERE a.seq = p_to AND a.hash = p_anchor)
	   OR EXISTS (SELECT 1 FROM runbook_audit a WHERE a.seq <= p_to AND a.time >= p_cut) THEN
		RAISE EXCEPTION 'runbook_audit_prune: seq %..% is not a prefix of entries older than %', p_from, p_to, p_cut;
	END IF;
	PERFORM set_config('runbook.audit_prune', 'on', true);
	DELETE FROM runbook_audit a WHERE a.seq <= p_to;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM set_config('runbook.audit_prune', '', true);
	RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION runbook_audit_prune(bigint, bigint, text, timestamptz) FROM PUBLIC;
`

// pgSchemaIn returns pgSchema for the tables of schema (unquoted).
func pgSchemaIn(schema string) string { return fillSchema(pgSchema, schema) }

// fillSchema fills in the lock key and the schema of sql.
func fillSchema(sql, schema string) string {
	return strings.NewReplacer("{{lock}}", strconv.FormatInt(appendLockKey, 10),
		"{{schema}}", pgx.Identifier{schema}.Sanitize()).Replace(sql)
}
