package migrate

import "strings"

// unrecognised is the reason for a statement the rules do not know: it
// counts as contract, because a wrong "expand" would run a destructive
// change while the old version still reads the schema.
const unrecognised = "unrecognised statement; mark the intent with -- runbook: expand"

// words is a statement's tokens with helpers for reading keywords.
type words []token

// at returns the keyword at i, "" for anything that is not an unquoted word.
func (w words) at(i int) string {
	if i < 0 || i >= len(w) || w[i].Kind != tWord {
		return ""
	}
	return w[i].Text
}

// is reports whether the keywords at i spell seq.
func (w words) is(i int, seq ...string) bool {
	for j, s := range seq {
		if w.at(i+j) != s {
			return false
		}
	}
	return true
}

// has reports whether seq occurs anywhere from i on.
func (w words) has(i int, seq ...string) bool {
	for ; i < len(w); i++ {
		if w.is(i, seq...) {
			return true
		}
	}
	return false
}

// skip returns the index after the optional keywords at i, in any order.
func (w words) skip(i int, optional ...string) int {
	for i < len(w) {
		found := false
		for _, o := range optional {
			if w.at(i) == o {
				i, found = i+1, true
			}
		}
		if !found {
			return i
		}
	}
	return i
}

// judge returns why a statement is contract; nil means it is additive (or,
// like SET or BEGIN, changes no schema or data).
func judge(w words) []string {
	switch w.at(0) {
	case "BEGIN", "COMMIT", "END", "START", "SET", "RESET", "COMMENT", "GRANT":
		return nil
	case "CREATE":
		return judgeCreate(w)
	case "ALTER":
		return judgeAlter(w)
	case "INSERT":
		if w.is(1, "OR", "REPLACE") || w.has(1, "DO", "UPDATE") {
			return []string{"INSERT ... upsert (rewrites existing rows)"}
		}
		return nil
	case "DROP":
		noun := w.at(1)
		if noun == "MATERIALIZED" || noun == "FOREIGN" {
			noun += " " + w.at(2)
		}
		return []string{strings.TrimSpace("DROP " + noun)}
	case "DELETE", "TRUNCATE", "UPDATE", "REVOKE":
		return []string{w.at(0)}
	case "REPLACE": // SQLite: REPLACE INTO
		return []string{"REPLACE (rewrites existing rows)"}
	}
	return []string{unrecognised}
}

// judgeCreate: creating objects is additive, except a unique index, which
// is a constraint the old version may break when it writes.
func judgeCreate(w words) []string {
	i := w.skip(1, "OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "MATERIALIZED", "RECURSIVE")
	switch w.at(i) {
	case "TABLE", "INDEX", "VIEW", "SEQUENCE", "TYPE", "EXTENSION", "SCHEMA":
		return nil
	case "UNIQUE":
		return []string{"CREATE UNIQUE INDEX (a constraint the old version may violate)"}
	}
	return []string{unrecognised}
}

// judgeAlter handles ALTER TABLE action by action, enum values, and renames
// of any object.
func judgeAlter(w words) []string {
	switch w.at(1) {
	case "TABLE":
		return judgeAlterTable(w)
	case "TYPE":
		switch {
		case w.has(2, "ADD", "VALUE"):
			return nil
		case w.has(2, "RENAME"):
			return []string{"RENAME TYPE"}
		}
	default:
		if w.has(2, "RENAME") {
			return []string{"RENAME " + w.at(1)}
		}
	}
	return []string{unrecognised}
}

func judgeAlterTable(w words) []string {
	i := w.skip(2, "IF", "EXISTS", "ONLY")
	i = skipName(w, i)
	if w.at(i) == "RENAME" {
		switch {
		case w.is(i+1, "TO"):
			return []string{"RENAME TABLE"}
		case w.is(i+1, "CONSTRAINT"):
			return []string{"RENAME CONSTRAINT"}
		}
		return []string{"RENAME COLUMN"}
	}
	var reasons []string
	for _, action := range splitActions(w[i:]) {
		if r := judgeAction(action); r != "" {
			reasons = append(reasons, r)
		}
	}
	return reasons
}

// skipName skips a possibly qualified, possibly quoted name and the * of
// "ALTER TABLE name *".
func skipName(w words, i int) int {
	for i < len(w) {
		i++ // a name part
		if i < len(w) && w[i].Kind == tPunct && w[i].Text == "." {
			i++
			continue
		}
		if i < len(w) && w[i].Kind == tPunct && w[i].Text == "*" {
			i++
		}
		return i
	}
	return i
}

// splitActions cuts ALTER TABLE's action list at top-level commas.
func splitActions(w words) []words {
	var out []words
	depth, start := 0, 0
	for i, t := range w {
		if t.Kind != tPunct {
			continue
		}
		switch t.Text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, w[start:i])
				start = i + 1
			}
		}
	}
	return append(out, w[start:])
}

// serialTypes have an implicit default, so NOT NULL columns of them fill
// existing rows.
var serialTypes = map[string]bool{"SERIAL": true, "BIGSERIAL": true, "SMALLSERIAL": true, "SERIAL4": true, "SERIAL8": true, "SERIAL2": true}

// judgeAction returns why one ALTER TABLE action is contract, "" if additive.
func judgeAction(a words) string {
	switch a.at(0) {
	case "ADD":
		switch a.at(1) {
		case "CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE":
			return "ADD CONSTRAINT (the old version may violate it)"
		}
		i := a.skip(1, "COLUMN", "IF", "NOT", "EXISTS")
		notNull := a.has(i, "NOT", "NULL") || a.has(i, "PRIMARY", "KEY")
		filled := a.has(i, "DEFAULT") || a.has(i, "GENERATED") || serialTypes[a.at(i+1)]
		if notNull && !filled {
			return "ADD COLUMN ... NOT NULL without DEFAULT"
		}
		return ""
	case "DROP":
		if a.at(1) == "CONSTRAINT" {
			return "DROP CONSTRAINT"
		}
		return "DROP COLUMN"
	case "RENAME":
		return "RENAME COLUMN"
	case "ALTER":
		i := a.skip(1, "COLUMN") + 1 // past the column name
		switch {
		case a.is(i, "TYPE"), a.is(i, "SET", "DATA", "TYPE"):
			return "ALTER COLUMN ... TYPE"
		case a.is(i, "SET", "NOT", "NULL"):
			return "ALTER COLUMN ... SET NOT NULL"
		case a.is(i, "DROP", "DEFAULT"):
			return "ALTER COLUMN ... DROP DEFAULT"
		case a.is(i, "DROP", "NOT", "NULL"), a.is(i, "SET", "DEFAULT"):
			return "" // relaxing a column is how an expand phase starts
		}
	}
	return unrecognised
}
