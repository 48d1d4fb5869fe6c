package runbooks

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a runbook, located like a compiler error so
// editors and terminals can jump to it. Line and Col are 1-based; 0 means the
// problem concerns the whole file (or, for Col, that the YAML parser did not
// say which column).
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

// String formats p as file:line:col: message, dropping the parts that are 0.
func (p Problem) String() string {
	switch {
	case p.Line <= 0:
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	case p.Col <= 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	}
}

// Problems is every problem found in one or more runbooks. It is the error
// type returned by Load and Parse, so callers can list each problem
// separately (errors.As) or just print the error.
type Problems []Problem

// Error lists the problems one per line, in file, line and column order.
func (ps Problems) Error() string {
	sorted := append(Problems(nil), ps...)
	sorted.sort()
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sort orders ps by file, line and column; the sort is stable so problems
// at the same place keep the order they were found in.
func (ps Problems) sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// maxProblems bounds the list: a hostile or badly broken file could
// otherwise produce one problem per node, and nobody reads past the first
// screenful anyway.
const maxProblems = 100

// pos is a place in the YAML source (1-based; zero when unknown).
type pos struct{ line, col int }

// collector gathers problems for one file, dropping exact duplicates (an
// anchor used twice reports its own mistakes once) and counting those past
// maxProblems.
type collector struct {
	file    string
	list    Problems
	seen    map[Problem]bool
	dropped int
}

func newCollector(file string) *collector {
	return &collector{file: file, seen: map[Problem]bool{}}
}

// addf records a problem at p.
func (c *collector) addf(p pos, format string, args ...any) {
	pr := Problem{File: c.file, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
	if c.seen[pr] {
		return
	}
	if len(c.list) >= maxProblems {
		c.dropped++
		return
	}
	c.seen[pr] = true
	c.list = append(c.list, pr)
}

// empty reports whether nothing was found.
func (c *collector) empty() bool { return len(c.list) == 0 }

// result returns the sorted problems, or nil when there are none.
func (c *collector) result() error {
	if c.empty() {
		return nil
	}
	ps := append(Problems(nil), c.list...)
	ps.sort()
	if c.dropped > 0 {
		ps = append(ps, Problem{File: c.file, Msg: fmt.Sprintf(
			"%d more problems not shown (only the first %d are listed)", c.dropped, maxProblems)})
	}
	return ps
}
