package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// EnvDSNAllowOwner, set to 1, lets the worker connect to the audit database
// as a role that owns the audit table or is a superuser, and create the
// table itself: for a developer database only.
const EnvDSNAllowOwner = "RUNBOOK_AUDIT_DSN_ALLOW_OWNER"

// ErrOwnerRole means the worker was given a database role that could alter,
// empty or drop the audit log, and refused to start with it.
var ErrOwnerRole = errors.New("the audit database role can alter the audit log")

// ErrSchemaOutdated means the audit table was created by an older runbook:
// without runbook_audit_settings its prune function enforces no minimum age,
// without the key_id and sig columns and runbook_audit_checkpoint rows
// cannot be signed nor checkpointed.
var ErrSchemaOutdated = errors.New("the audit table was created by an older runbook")

// roleRule says whether an owner role is allowed (EnvDSNAllowOwner).
type roleRule struct{ allowOwner bool }

// ownerFix says how to fix a refused role.
const ownerFix = "connect the worker as a role that may only SELECT and INSERT on runbook_audit and EXECUTE runbook_audit_prune " +
	"(runbook_worker: deploy/postgres/10-runbook-audit.sql creates it and the owner role), " +
	"or, on a developer database only, set " + EnvDSNAllowOwner + "=1"

// roleQuery lists what the current role could do beyond appending and
// reading: be a superuser, create roles (and so grant itself the owner's),
// create objects in the table's schema, be a member of the role owning one of the audit objects, or hold a
// privilege on the tables that edits, empties or re-triggers them. Objects
// that do not exist yet are skipped; the table's absence is reported apart.
const roleQuery = `
WITH objs(kind, name, owner, oid) AS (
	SELECT 'table', c.relname::text, c.relowner, c.oid FROM pg_class c
	 WHERE c.oid IN (to_regclass('runbook_audit'), to_regclass('runbook_audit_settings'), to_regclass('runbook_audit_checkpoint'))
	UNION ALL
	SELECT 'function', p.proname::text, p.proowner, p.oid FROM pg_proc p
	 WHERE p.oid IN (to_regprocedure('runbook_audit_prune(bigint, bigint, text, timestamptz)'),
	                 to_regprocedure('runbook_audit_append_only()'), to_regprocedure('runbook_audit_checkpoint_append_only()'))
)
SELECT current_user::text, to_regclass('runbook_audit') IS NOT NULL, r.rolsuper, r.rolcreaterole,
	coalesce((SELECT has_schema_privilege(c.relnamespace, 'CREATE') FROM pg_class c WHERE c.oid = to_regclass('runbook_audit')), false),
	coalesce((SELECT array_agg(o.kind || ' ' || o.name ORDER BY o.name) FROM objs o
	           WHERE pg_has_role(current_user, o.owner, 'MEMBER')), '{}'),
	coalesce((SELECT array_agg(p.priv || ' on ' || o.name ORDER BY o.name, p.priv) FROM objs o
	           CROSS JOIN unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES', 'INSERT']) p(priv)
	           WHERE o.kind = 'table' AND has_table_privilege(o.oid, p.priv)
	             AND NOT (o.name IN ('runbook_audit', 'runbook_audit_checkpoint') AND p.priv = 'INSERT')), '{}')
FROM pg_roles r WHERE r.rolname = current_user`

// checkWorkerRole refuses a role that could alter the audit log, unless
// rule allows an owner, and then warns. A worker whose credentials leak
// should be able to append and read, never to drop the append-only trigger,
// truncate the table or lower the prune function's minimum age. A missing
// table is refused too, since creating it makes the worker its owner.
func (p *Postgres) checkWorkerRole(ctx context.Context, rule roleRule) error {
	var user string
	var exists, super, createRole, createIn bool
	var owns, privs []string
	if err := p.pool.QueryRow(ctx, roleQuery).Scan(&user, &exists, &super, &createRole, &createIn, &owns, &privs); err != nil {
		return err
	}
	var st pgSchemaState
	if err := p.pool.QueryRow(ctx, pgStateQuery).Scan(&st.guarded, &st.signed, &st.checkpoints); err != nil {
		return err
	}
	if exists && !st.current() && !rule.allowOwner {
		return fmt.Errorf("%w: it lacks %s; upgrade it as its owner: start the worker once with the owner's DSN and %s=1 "+
			"(which also lets the roles that may insert into runbook_audit insert checkpoints), "+
			"or run the statements of deploy/postgres/10-runbook-audit.sql it lacks as the owner", ErrSchemaOutdated, st.missing(), EnvDSNAllowOwner)
	}
	var why []string
	if !exists {
		why = append(why, "the table runbook_audit does not exist, and the worker would create and own it")
	}
	if super {
		why = append(why, "it is a superuser")
	}
	if createRole {
		why = append(why, "it has CREATEROLE, so it can grant itself the owner's role")
	}
	if createIn {
		why = append(why, "it may CREATE in the table's schema, where it could plant functions or operators the prune function would call")
	}
	if len(owns) > 0 {
		why = append(why, "it owns (or is a member of the owner of) "+strings.Join(owns, ", "))
	}
	if len(privs) > 0 {
		why = append(why, "it holds "+strings.Join(privs, ", "))
	}
	switch {
	case len(why) == 0:
		return nil
	case rule.allowOwner:
		slog.Warn("audit database: the worker's role can alter the audit log; allowed by "+EnvDSNAllowOwner+"=1, for developer databases only",
			"log", p.name, "role", user, "because", strings.Join(why, "; "))
		return nil
	}
	return fmt.Errorf("%w: role %q (%s); %s", ErrOwnerRole, user, strings.Join(why, "; "), ownerFix)
}
