package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// dirtyError explains a migration that failed after golang-migrate marked
// the database dirty: which file, which statement when Postgres says where
// (its error position counts characters in the file, which the driver sends
// whole), and what to do.
func (s *session) dirtyError(err error) error {
	s.mu.Lock()
	e, file, at := s.running, s.file, s.dirtyAt
	s.mu.Unlock()
	d := DirtyDetails{Version: e.Version, File: file, Error: describe(err)}
	where := ""
	if pe := pgErrorOf(err); pe != nil {
		d.Error = pgMessage(pe)
		if b, rerr := os.ReadFile(filepath.Join(s.dir, file)); rerr == nil && pe.Position > 0 && file != "" {
			var line int
			line, d.Statement = statementAt(string(b), int(pe.Position))
			where = fmt.Sprintf(" at line %d", line)
		}
	}
	r := s.c.redact
	d.Error, d.Statement = r.String(d.Error), r.String(d.Statement)
	if d.Statement != "" {
		where += fmt.Sprintf(" (%s)", d.Statement)
	}
	msg := fmt.Sprintf("migration %s failed%s: %s. The database is marked dirty at version %d: check what the migration changed "+
		"(it ran in one transaction, so unless it commits by itself nothing of it stayed), fix the file, "+
		"then Force the version the schema is at (%d if nothing stayed) and run again", file, where, d.Error, at, s.before(e))
	return temporal.NewNonRetryableApplicationError(msg, ErrDirty, nil, d)
}

// before is the version the schema was at before e ran in this direction.
func (s *session) before(e *entry) int {
	if s.phase == "down" {
		return int(e.Version)
	}
	prev := -1
	for _, o := range s.entries {
		if o.Version < e.Version {
			prev = int(o.Version)
		}
	}
	return prev
}

// dirtyAtStart refuses to work on a database an earlier run left dirty.
func (s *session) dirtyAtStart(v int) error {
	d := DirtyDetails{Version: uint(max(v, 0)), Error: "an earlier migration failed or was interrupted and left the database dirty"}
	what := "a migration"
	for _, e := range s.entries {
		if int(e.Version) == v {
			d.File, what = e.File, e.File
		}
	}
	msg := fmt.Sprintf("the database %s is dirty at version %d: an earlier run of %s failed or was interrupted. "+
		"Check the schema, then Force the version it is really at and run again", s.c.display, v, what)
	return temporal.NewNonRetryableApplicationError(msg, ErrDirty, nil, d)
}

// statementAt returns the line of the 1-based character position pos in
// sql and the statement there (or the next one, if pos falls between).
func statementAt(sql string, pos int) (int, string) {
	off, n := len(sql), 0
	for i := range sql {
		if n++; n == pos {
			off = i
			break
		}
	}
	line := 1 + strings.Count(sql[:off], "\n")
	stmts, _ := split(sql)
	for _, st := range stmts {
		if off <= st.End {
			return line, oneLine(st.Text, 300)
		}
	}
	return line, ""
}

// refuseContract fails when any of es is contract: Up applies nothing.
func refuseContract(es []entry) error {
	var bad []Migration
	var first finding
	for _, e := range es {
		if e.Class == Contract {
			if bad = append(bad, e.Migration); len(bad) == 1 {
				first = e.findings[0]
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	more := ""
	if n := countFindings(es) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more)", n)
	}
	msg := fmt.Sprintf("Up would apply a contract migration while AllowContract is false: %s in `%s`%s; nothing was applied. "+
		"Run it in a contract phase, after all traffic is on the new version, or, if the statement only adds, mark the file with -- runbook: expand",
		first.reason, first.stmt, more)
	return temporal.NewNonRetryableApplicationError(msg, ErrContract, nil, bad)
}

func countFindings(es []entry) int {
	n := 0
	for _, e := range es {
		n += len(e.findings)
	}
	return n
}

// refuseIrreversible fails when any of es cannot be reverted safely: Down
// reverts nothing.
func refuseIrreversible(es []entry, to string) error {
	var bad []Migration
	var names []string
	for _, e := range es {
		if !e.Reversible {
			bad = append(bad, e.Migration)
			why := "no down file"
			if e.down != "" {
				why = "no line -- runbook: reversible in the up file"
			}
			names = append(names, fmt.Sprintf("%s (%s)", e.File, why))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	msg := fmt.Sprintf("Down to %s would revert %s, not marked reversible; nothing was reverted. "+
		"Restore the schema by hand or roll forward with a new migration", to, strings.Join(names, ", "))
	return temporal.NewNonRetryableApplicationError(msg, ErrIrreversible, nil, bad)
}
