package runbooks

import (
	"strings"
	"testing"
)

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"a.yaml", 3, 7, "bad"}, "a.yaml:3:7: bad"},
		{Problem{"a.yaml", 3, 0, "bad"}, "a.yaml:3: bad"},
		{Problem{"a.yaml", 0, 0, "file is empty"}, "a.yaml: file is empty"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestProblemsErrorSortsStably(t *testing.T) {
	ps := Problems{
		{"a.yaml", 9, 1, "last"},
		{"a.yaml", 2, 5, "second"},
		{"a.yaml", 2, 5, "third"}, // same place: keeps its order
		{"a.yaml", 2, 1, "first"},
		{"a.yaml", 0, 0, "whole file"},
	}
	want := strings.Join([]string{
		"a.yaml: whole file",
		"a.yaml:2:1: first",
		"a.yaml:2:5: second",
		"a.yaml:2:5: third",
		"a.yaml:9:1: last",
	}, "\n")
	if got := ps.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if ps[0].Msg != "last" {
		t.Error("Error() reordered the receiver; it must sort a copy")
	}
}

func TestCollectorCapsAndDedupes(t *testing.T) {
	c := newCollector("f.yaml")
	c.addf(pos{1, 1}, "same")
	c.addf(pos{1, 1}, "same")
	for i := 0; i < maxProblems+5; i++ {
		c.addf(pos{i + 2, 1}, "problem %d", i)
	}
	ps := c.result().(Problems)
	if len(ps) != maxProblems+1 {
		t.Fatalf("got %d problems, want %d (the cap plus a note)", len(ps), maxProblems+1)
	}
	if ps[0].Msg != "same" || ps[1].Msg == "same" {
		t.Errorf("duplicates not merged: %v", ps[:2])
	}
	if last := ps[len(ps)-1]; !strings.Contains(last.Msg, "6 more problems not shown") {
		t.Errorf("last problem = %q, want the count of dropped problems", last.Msg)
	}
}
