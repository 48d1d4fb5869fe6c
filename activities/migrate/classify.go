package migrate

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/golang-migrate/migrate/v4/source"
)

// Classify reads a migrations directory (golang-migrate naming:
// NNN_name.up.sql, NNN_name.down.sql) and returns its migrations sorted by
// version, each classified statement by statement. It touches no database,
// so the CLI runs it when it validates a runbook.
//
// A statement is expand when it only adds: CREATE TABLE / INDEX (also
// CONCURRENTLY) / VIEW / SEQUENCE / TYPE / EXTENSION / SCHEMA, ALTER TABLE
// ADD COLUMN that is nullable or has a DEFAULT, ALTER COLUMN DROP NOT NULL or
// SET DEFAULT, ALTER TYPE ADD VALUE, INSERT, COMMENT, GRANT; SET, BEGIN and
// COMMIT change nothing. It is contract when the old version could break on
// it or data is lost: DROP of anything, RENAME, ALTER COLUMN TYPE / SET NOT
// NULL / DROP DEFAULT, ADD COLUMN NOT NULL without DEFAULT, ADD CONSTRAINT,
// CREATE UNIQUE INDEX, DELETE, TRUNCATE, UPDATE, upserts, REVOKE. Anything
// else is contract too, as "unrecognised statement"; when such a file is in
// fact additive (a new function, a trigger), the line "-- runbook: expand"
// in the up file makes the whole file expand.
//
// A file is contract when any of its statements is. Keywords are matched
// case-insensitively, outside string literals, quoted identifiers, comments
// and dollar-quoted bodies.
func Classify(dir string) ([]Migration, error) {
	es, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Migration, len(es))
	for i, e := range es {
		out[i] = e.Migration
	}
	return out, nil
}

// entry is a migration with what the activities need beyond Migration.
type entry struct {
	Migration
	down     string    // the down file's base name, "" if none
	findings []finding // the contract statements of the up file
}

// finding is one reason a migration is contract, with the statement.
type finding struct {
	reason, stmt string
}

// readDir lists and classifies the migrations of dir. It refuses what
// golang-migrate would run differently from what Classify looked at: .sql
// files it would skip for their name, migrations in other extensions, two
// files for one version and direction, a down file without an up file.
func readDir(dir string) ([]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the migrations directory: %w", err)
	}
	ups := map[uint]*entry{}
	downs := map[uint]string{}
	for _, de := range des {
		name := de.Name()
		if de.IsDir() {
			continue
		}
		m, err := source.Parse(name)
		if err != nil {
			if strings.HasSuffix(name, ".sql") {
				return nil, fmt.Errorf("%s: not named NNN_name.up.sql or NNN_name.down.sql, so golang-migrate would skip it", name)
			}
			continue
		}
		if !strings.HasSuffix(name, "."+string(m.Direction)+".sql") {
			return nil, fmt.Errorf("%s: golang-migrate would run it as a migration; name it .%s.sql or move it out of the directory", name, m.Direction)
		}
		if m.Direction == source.Down {
			if other, dup := downs[m.Version]; dup {
				return nil, fmt.Errorf("%s and %s: two down files for version %d", other, name, m.Version)
			}
			downs[m.Version] = name
			continue
		}
		if other, dup := ups[m.Version]; dup {
			return nil, fmt.Errorf("%s and %s: two up files for version %d", other.File, name, m.Version)
		}
		e, err := readUp(dir, name, m)
		if err != nil {
			return nil, err
		}
		ups[m.Version] = e
	}
	out := make([]entry, 0, len(ups))
	for v, name := range downs {
		e, ok := ups[v]
		if !ok {
			return nil, fmt.Errorf("%s: no up file for version %d", name, v)
		}
		e.down = name
	}
	for _, e := range ups {
		e.Reversible = e.Reversible && e.down != ""
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// readUp reads and classifies one up file; Reversible is set here from the
// marker alone and completed by readDir once the down files are known.
func readUp(dir, name string, m *source.Migration) (*entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	e := &entry{Migration: Migration{Version: m.Version, Name: m.Identifier, File: name, Class: Expand}}
	stmts, dirs := split(string(b))
	override := false
	for _, d := range dirs {
		switch d.Word {
		case "expand":
			override = true
		case "reversible":
			e.Reversible = true
		default:
			return nil, fmt.Errorf("%s:%d: unknown directive %q; write -- runbook: expand or -- runbook: reversible", name, d.Line, d.Word)
		}
	}
	if override {
		return e, nil
	}
	for _, s := range stmts {
		for _, r := range judge(s.Tokens) {
			reason := fmt.Sprintf("%s:%d: %s", name, s.Line, r)
			stmt := oneLine(s.Text, 200)
			e.Reasons = append(e.Reasons, reason)
			e.Statements = append(e.Statements, stmt)
			e.findings = append(e.findings, finding{reason: reason, stmt: stmt})
		}
	}
	if len(e.Reasons) > 0 {
		e.Class = Contract
	}
	return e, nil
}
