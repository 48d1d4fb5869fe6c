package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/migrate"
)

// schemaUndo is the compensation of a migrate step. Migrating down is only
// safe when every applied migration has a down file and is marked
// reversible; otherwise the schema stays as it is — the migrations of an
// expand phase are additive, so the previous version still works with it —
// and the rollback says so instead of dropping data. With the truthful
// rollback it is registered before Up runs and reads the schema to learn
// what was really applied.
type schemaUndo struct {
	target     migrate.Target
	from, to   uint
	hadVersion bool
	// pending are the migrations the step was about to apply.
	pending      []migrate.Migration
	irreversible []string
	// dirty marks a schema a failed migration left dirty when the release
	// was aborted: only a person can tell what it really holds.
	dirty bool
	// found is the schema as read by undo.
	found *migrate.StatusResult
}

func (u *schemaUndo) describe() string {
	if u.dirty {
		return fmt.Sprintf("schema left dirty at version %d by a failed migration: repair it by hand (runbook migrate status), then force the real version", u.to)
	}
	if len(u.irreversible) > 0 {
		return fmt.Sprintf("keep the schema at version %d (%s not reversible; the additive schema stays, nothing is dropped)",
			u.to, strings.Join(u.irreversible, ", "))
	}
	if !u.hadVersion {
		return "migrate the schema down to empty"
	}
	return fmt.Sprintf("migrate the schema down to version %d", u.from)
}

// pushSchemaCompensation registers the undo of migrations about to be (or
// just) applied.
func (k *migrateKind) pushSchemaCompensation(e *environment, step string, t migrate.Target, before migrate.StatusResult, applied []migrate.Migration) {
	u := &schemaUndo{target: t, from: before.Version, hadVersion: before.HasVersion, pending: applied}
	for _, m := range applied {
		u.to = max(u.to, m.Version)
		if !m.Reversible {
			u.irreversible = append(u.irreversible, m.File)
		}
	}
	e.pushCompensation(compensation{step: step, undo: u})
}

// undo runs a schema compensation. The truthful version first reads the
// schema: a dirty one is left to a person, one at the version the step
// found has nothing to undo, and only what was really applied decides
// between migrating down and keeping.
func (u *schemaUndo) undo(ctx workflow.Context, e *environment) (undone, error) {
	if !e.truthful {
		return u.legacyUndo(ctx, e)
	}
	cur, err := e.schemaStatus(ctx, u.target)
	if err != nil {
		return reverted, err
	}
	u.found = &cur
	switch {
	case cur.Dirty:
		return reverted, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the schema is dirty at version %d: a migration stopped half-way", cur.Version), migrate.ErrDirty, nil)
	case u.atStart(cur):
		return nothingToUndo, nil
	}
	if irr := u.appliedIrreversible(cur.Version); len(irr) > 0 {
		u.irreversible = irr
		return kept, nil
	}
	return reverted, e.migrateDown(ctx, u)
}

// atStart reports whether the schema is where the step found it.
func (u *schemaUndo) atStart(s migrate.StatusResult) bool {
	if !u.hadVersion {
		return !s.HasVersion
	}
	return s.HasVersion && s.Version == u.from
}

// appliedIrreversible lists the applied migrations (up to version v) that
// cannot be migrated down.
func (u *schemaUndo) appliedIrreversible(v uint) []string {
	var out []string
	for _, m := range u.pending {
		if m.Version <= v && !m.Reversible {
			out = append(out, m.File)
		}
	}
	return out
}

// readBack reads the schema: back at the version the step found, or for a
// kept schema, clean at the version it was left at.
func (u *schemaUndo) readBack(ctx workflow.Context, e *environment, how undone) (observed, error) {
	s, err := e.schemaStatus(ctx, u.target)
	if err != nil {
		return observed{}, err
	}
	found := fmt.Sprintf("schema at version %d", s.Version)
	switch {
	case !s.HasVersion:
		found = "schema empty"
	case s.Dirty:
		found += " (dirty)"
	}
	ok := !s.Dirty && u.atStart(s)
	if how == kept {
		ok = !s.Dirty && u.found != nil && s.Version == u.found.Version
	}
	return observed{ok: ok, found: found}, nil
}

func (u *schemaUndo) leftover(e *environment) Leftover {
	at := fmt.Sprintf("version %d", u.from)
	if !u.hadVersion {
		at = "empty"
	}
	status := fmt.Sprintf("runbook migrate status %s --env %s", e.runbookRef(), e.in.Env.Name)
	return Leftover{
		What: fmt.Sprintf("the schema of %s is not back at %s (the step found it there)", e.in.Env.Name, at),
		Fix: fmt.Sprintf("see what is applied: %s; repair a dirty migration by hand, then: migrate -path %s -database %s force N; "+
			"migrate down when the old version cannot run on it", status, u.target.Migrations, shellRef(u.target.URL)),
	}
}

// shellRef turns a database reference (env:NAME, file:PATH) into the shell
// word that yields it, so a command shown to people never holds the secret.
func shellRef(ref string) string {
	switch {
	case strings.HasPrefix(ref, "env:"):
		return `"$` + strings.TrimPrefix(ref, "env:") + `"`
	case strings.HasPrefix(ref, "file:"):
		return `"$(cat ` + strings.TrimPrefix(ref, "file:") + `)"`
	}
	return `"$DATABASE_URL"`
}

// migrateDown migrates to the version the step found.
func (e *environment) migrateDown(ctx workflow.Context, u *schemaUndo) error {
	ctx = workflow.WithActivityOptions(ctx, migrateOptions(time.Hour, "migrate down "+e.in.Env.Name))
	in := migrate.DownInput{Target: u.target, To: u.from, ToNothing: !u.hadVersion}
	return workflow.ExecuteActivity(ctx, migrateActs.Down, in).Get(ctx, nil)
}

// legacyUndo is the compensation of releases started before the truthful
// rollback: from the workflow's record of what it applied.
func (u *schemaUndo) legacyUndo(ctx workflow.Context, e *environment) (undone, error) {
	if u.dirty {
		return reverted, temporal.NewNonRetryableApplicationError(u.describe(), migrate.ErrDirty, nil)
	}
	if len(u.irreversible) > 0 {
		return kept, nil
	}
	return reverted, e.migrateDown(ctx, u)
}
