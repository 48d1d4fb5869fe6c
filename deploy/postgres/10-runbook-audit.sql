-- The audit database of runbook (table runbook_audit) and its two roles,
-- created on the first start of the compose PostgreSQL (it runs
-- /docker-entrypoint-initdb.d with psql once, on an empty data directory, as
-- the superuser). On another server run it once the same way:
--
--   RUNBOOK_AUDIT_WORKER_PASSWORD=... psql -v ON_ERROR_STOP=1 -U postgres -f 10-runbook-audit.sql
--
-- runbook_audit_owner (NOLOGIN) owns the database, the table, its append-only
-- triggers, the settings, the checkpoint table and the prune function.
-- runbook_worker (LOGIN) is the role the worker connects as: it may SELECT and
-- INSERT rows (of runbook_audit and runbook_audit_checkpoint) and EXECUTE
-- runbook_audit_prune (SECURITY DEFINER, which refuses cuts younger than
-- runbook_audit_settings.min_age), and nothing else. It cannot update, delete,
-- truncate, drop the trigger, delete a checkpoint or change min_age. The worker refuses to start
-- as a role that could (see RUNBOOK_AUDIT_DSN_ALLOW_OWNER).
--
-- The minimum age of a prune is RUNBOOK_AUDIT_MIN_AGE (a PostgreSQL interval,
-- at least 1 day; 30 days when unset). Change it later as a superuser or the owner:
--   SET ROLE runbook_audit_owner; UPDATE runbook_audit_settings SET min_age = interval '400 days';
--
-- The schema part between the markers is the worker's own (activities/audit,
-- pgSchema); a test keeps them equal.
\set ON_ERROR_STOP on
\getenv worker_password RUNBOOK_AUDIT_WORKER_PASSWORD
\if :{?worker_password}
\else
\set worker_password ''
\endif
SELECT set_config('runbook.worker_password', :'worker_password', false) IS NOT NULL AS password_read;
\unset worker_password

CREATE ROLE runbook_audit_owner NOLOGIN;
DO $do$
BEGIN
	IF length(current_setting('runbook.worker_password')) < 16 THEN
		RAISE EXCEPTION 'RUNBOOK_AUDIT_WORKER_PASSWORD must hold the password of runbook_worker, 16 characters or more';
	END IF;
	EXECUTE format('CREATE ROLE runbook_worker LOGIN PASSWORD %L', current_setting('runbook.worker_password'));
END
$do$;
SELECT set_config('runbook.worker_password', '', false) = '' AS password_forgotten;

CREATE DATABASE runbook_audit OWNER runbook_audit_owner;
REVOKE ALL ON DATABASE runbook_audit FROM PUBLIC;
GRANT CONNECT ON DATABASE runbook_audit TO runbook_worker;

\connect runbook_audit
-- Nobody but the owner creates objects here (no shadowing table, no
-- function in a schema the prune function could be tricked into).
ALTER SCHEMA public OWNER TO runbook_audit_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO runbook_worker;
SET ROLE runbook_audit_owner;

-- BEGIN runbook audit schema
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

CREATE TABLE runbook_audit_settings (
	one     boolean  PRIMARY KEY DEFAULT true CHECK (one),
	min_age interval NOT NULL DEFAULT interval '30 days' CHECK (min_age >= interval '1 day')
);
INSERT INTO runbook_audit_settings DEFAULT VALUES;
COMMENT ON TABLE runbook_audit_settings IS
	'runbook audit settings (one row): min_age is the youngest cut runbook_audit_prune accepts; only the owner may change it.';

CREATE OR REPLACE FUNCTION runbook_audit_prune(p_from bigint, p_to bigint, p_anchor text, p_cut timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = "public", pg_temp AS $fn$
DECLARE
	tail runbook_audit%ROWTYPE;
	rec  jsonb;
	n    bigint;
	v_min_age interval;
BEGIN
	PERFORM pg_advisory_xact_lock(8247619661654354785);
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
-- END runbook audit schema

\getenv min_age RUNBOOK_AUDIT_MIN_AGE
\if :{?min_age}
UPDATE runbook_audit_settings SET min_age = :'min_age'::interval;
\endif

GRANT SELECT, INSERT ON runbook_audit TO runbook_worker;
GRANT SELECT, INSERT ON runbook_audit_checkpoint TO runbook_worker;
GRANT EXECUTE ON FUNCTION runbook_audit_prune(bigint, bigint, text, timestamptz) TO runbook_worker;
RESET ROLE;
