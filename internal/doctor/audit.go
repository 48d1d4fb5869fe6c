package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// auditPrivQuery is what the worker's role may do to the audit table:
// append and read, nothing that edits or empties it.
const auditPrivQuery = `
SELECT current_user::text, r.rolsuper, to_regclass('runbook_audit') IS NOT NULL,
	coalesce(has_table_privilege(to_regclass('runbook_audit'), 'INSERT'), false),
	coalesce(has_table_privilege(to_regclass('runbook_audit'), 'SELECT'), false),
	coalesce(has_table_privilege(to_regclass('runbook_audit'), 'UPDATE'), false),
	coalesce(has_table_privilege(to_regclass('runbook_audit'), 'DELETE'), false),
	coalesce(has_table_privilege(to_regclass('runbook_audit'), 'TRUNCATE'), false)
FROM pg_roles r WHERE r.rolname = current_user`

// auditPrivs is what auditPrivQuery found.
type auditPrivs struct {
	role                                  string
	super, exists                         bool
	insert, sel, update, delete, truncate bool
}

// checkAudit connects as the worker's audit role and asks PostgreSQL what
// it may do: a worker whose credentials leak should be able to append to
// the audit log and read it, never rewrite or empty it.
func checkAudit(ctx context.Context, cfg Config) Result {
	if cfg.AuditDSNErr != nil {
		return Result{Check: CheckAudit, Status: Fail, Detail: cfg.AuditDSNErr.Error(),
			Fix: "set one of RUNBOOK_AUDIT_DSN or RUNBOOK_AUDIT_DSN_FILE (a file the worker can read)"}
	}
	if cfg.AuditDSN == "" {
		return Result{Check: CheckAudit, Status: Skip, Detail: "RUNBOOK_AUDIT_DSN is not set: the audit log is a file, with no database role"}
	}
	conn, err := pgx.Connect(ctx, string(cfg.AuditDSN))
	if err != nil {
		return Result{Check: CheckAudit, Status: Fail, Detail: fmt.Sprintf("connect to %s: %v", cfg.AuditDSN, err),
			Fix: "check RUNBOOK_AUDIT_DSN (or RUNBOOK_AUDIT_DSN_FILE) and that PostgreSQL is up (docker compose ps postgresql)"}
	}
	defer conn.Close(ctx)
	var p auditPrivs
	if err := conn.QueryRow(ctx, auditPrivQuery).Scan(&p.role, &p.super, &p.exists, &p.insert, &p.sel, &p.update, &p.delete, &p.truncate); err != nil {
		return Result{Check: CheckAudit, Status: Fail, Detail: fmt.Sprintf("read the role's privileges: %v", err)}
	}
	return judgeAudit(p)
}

// judgeAudit turns the privileges into a verdict and the SQL that fixes it.
func judgeAudit(p auditPrivs) Result {
	r := Result{Check: CheckAudit}
	switch {
	case !p.exists:
		r.Status, r.Detail = Fail, fmt.Sprintf("role %s sees no table runbook_audit", p.role)
		r.Fix = "create it and the roles as the database owner: psql \"$OWNER_DSN\" -f deploy/postgres/10-runbook-audit.sql"
	case p.super:
		r.Status, r.Detail = Fail, fmt.Sprintf("role %s is a superuser: it could rewrite or empty the audit log", p.role)
		r.Fix = "connect the worker as runbook_worker (deploy/postgres/10-runbook-audit.sql creates it): RUNBOOK_AUDIT_DSN=postgres://runbook_worker:PASSWORD@HOST:5432/runbook_audit"
	default:
		var too []string
		for _, priv := range []struct {
			name string
			has  bool
		}{{"UPDATE", p.update}, {"DELETE", p.delete}, {"TRUNCATE", p.truncate}} {
			if priv.has {
				too = append(too, priv.name)
			}
		}
		switch {
		case len(too) > 0:
			r.Status = Fail
			r.Detail = fmt.Sprintf("role %s may %s runbook_audit: it could rewrite or empty the audit log", p.role, strings.Join(too, ", "))
			r.Fix = fmt.Sprintf("psql \"$OWNER_DSN\" -c 'REVOKE %s ON runbook_audit FROM %s'", strings.Join(too, ", "), quoteIdent(p.role))
		case !p.insert || !p.sel:
			r.Status = Fail
			r.Detail = fmt.Sprintf("role %s may not INSERT into and SELECT from runbook_audit: the worker cannot record releases", p.role)
			r.Fix = fmt.Sprintf("psql \"$OWNER_DSN\" -c 'GRANT SELECT, INSERT ON runbook_audit TO %s'", quoteIdent(p.role))
		default:
			r.Status = OK
			r.Detail = fmt.Sprintf("role %s may INSERT into and SELECT from runbook_audit, not UPDATE, DELETE or TRUNCATE it", p.role)
		}
	}
	return r
}

// quoteIdent quotes a role name for SQL when it needs it.
func quoteIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
