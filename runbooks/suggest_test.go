package runbooks

import (
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"service", "service", 0},
		{"sevice", "service", 1},
		{"sevrice", "service", 1}, // a swap counts once
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"ünïcode", "unicode", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (symmetry)", tt.b, tt.a, got, tt.want)
		}
	}
	if got := editDistance(strings.Repeat("a", 10000), "a"); got < 100 {
		t.Errorf("a very long key is close to a short one: %d", got)
	}
}

func TestSuggest(t *testing.T) {
	top := fieldsOf(reflectType[Runbook]()).names
	check := fieldsOf(reflectType[HTTPCheckStep]()).names
	tests := []struct {
		key   string
		valid []string
		want  string
	}{
		{"sevice", top, "service"},
		{"Service", top, "service"},
		{"api_version", top, "api-version"},
		{"apiVersion", top, "api-version"},
		{"enviroments", top, "environments"},
		{"timout", check, "timeout"},
		{"expected-status", check, "expect-status"},
		{"foo", check, ""},
		{"x", top, ""},
		{"version", top, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.key, tt.valid); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
