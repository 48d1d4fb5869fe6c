package runbooks

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/providers"
)

// The schema's provider enums are internal/providers' lists, in order, as
// the validator's are: an editor accepts exactly what `runbook validate` does.
func TestSchemaProvidersAreTheRegistryNames(t *testing.T) {
	_, doc := loadSchema(t)
	for def, want := range map[string][]string{"Traffic": providers.Traffic(), "Metrics": providers.Metrics()} {
		var p struct{ Enum []string }
		if err := json.Unmarshal(doc.Defs[def].Properties["provider"], &p); err != nil {
			t.Fatalf("%s.provider: %v", def, err)
		}
		if !slices.Equal(p.Enum, want) {
			t.Errorf("%s.provider enum %v, want %v", def, p.Enum, want)
		}
	}
}

// Every registry name passes the validator and an unknown one is refused
// with the whole list, so validator and registry cannot disagree.
func TestValidatorProvidersAreTheRegistryNames(t *testing.T) {
	for _, c := range []struct {
		kind, line, was string // trafficBase's provider line and the name in it
		names           []string
	}{
		{"traffic", tbProvider, "edge", providers.Traffic()},
		{"metrics", "provider: prometheus", "prometheus", providers.Metrics()},
	} {
		for _, n := range append(c.names, "nginx") {
			src := editTraffic(t, c.line, strings.Replace(c.line, c.was, n, 1))
			about := providerProblems(t, c.kind, src)
			switch {
			case n != "nginx" && len(about) > 0:
				t.Errorf("%s provider %s refused: %v", c.kind, n, about)
			case n == "nginx" && (len(about) != 1 || !strings.HasSuffix(about[0], "use "+orList(c.names))):
				t.Errorf("%s provider nginx: %v, want one problem ending in the known list %q", c.kind, about, orList(c.names))
			}
		}
	}
}

// providerProblems returns the messages of src's problems about its kind
// provider (other problems, such as a provider's own option rules, aside).
func providerProblems(t *testing.T, kind, src string) []string {
	t.Helper()
	_, err := parseSafely(t, "t.yaml", []byte(src))
	var ps Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatalf("Parse: %v", err)
	}
	var about []string
	for _, p := range ps {
		if strings.Contains(p.Msg, kind+" provider") || strings.Contains(p.Msg, kind+".provider") {
			about = append(about, p.Msg)
		}
	}
	return about
}
