package providers

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// listRe is a YAML comment listing alternatives: "# edge | haproxy | alb".
var listRe = regexp.MustCompile(`#\s*([a-z0-9-]+(?:\s*\|\s*[a-z0-9-]+)+)\s*$`)

// readmeLists returns the provider lists of the README's example runbook:
// the comment on the provider line under "traffic:" and on "metrics:".
func readmeLists(t *testing.T) (traffic, metrics []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(line string) []string {
		m := listRe.FindStringSubmatch(line)
		if m == nil {
			return nil
		}
		var names []string
		for n := range strings.SplitSeq(m[1], "|") {
			names = append(names, strings.TrimSpace(n))
		}
		return names
	}
	underTraffic := false
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "traffic:":
			underTraffic = true
		case underTraffic && strings.HasPrefix(trimmed, "provider:"):
			traffic, underTraffic = parse(trimmed), false
		case strings.HasPrefix(trimmed, "metrics: {provider:"):
			metrics = parse(trimmed)
		}
	}
	return traffic, metrics
}

// The README's example lists exactly the providers runbooks accept (in any
// order): a provider added here and not there, or the reverse, fails.
func TestREADMEListsProviders(t *testing.T) {
	traffic, metrics := readmeLists(t)
	for _, c := range []struct {
		kind       string
		readme, us []string
	}{{"traffic", traffic, Traffic()}, {"metrics", metrics, Metrics()}} {
		got, want := slices.Sorted(slices.Values(c.readme)), slices.Sorted(slices.Values(c.us))
		if !slices.Equal(got, want) {
			t.Errorf("README's %s provider comment (# a | b | ...) lists %v; internal/providers has %v", c.kind, got, want)
		}
	}
}

// docs/ARCHITECTURE.md names every provider in its traffic section, so a
// newcomer who reads it finds each one.
func TestArchitectureNamesProviders(t *testing.T) {
	b, err := os.ReadFile("../../docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## Traffic, analysis and rollback")
	if start < 0 {
		t.Fatal(`docs/ARCHITECTURE.md has no "## Traffic, analysis and rollback" section`)
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, n := range slices.Concat(Traffic(), Metrics()) {
		if !strings.Contains(section, "`"+n+"`") {
			t.Errorf("docs/ARCHITECTURE.md's traffic section does not name provider `%s`", n)
		}
	}
}

// The lists are copies: a caller changing one cannot change the names.
func TestListsAreCopies(t *testing.T) {
	Traffic()[0] = "changed"
	Metrics()[0] = "changed"
	if slices.Contains(Traffic(), "changed") || slices.Contains(Metrics(), "changed") {
		t.Fatal("a caller changed the provider names")
	}
}
