package runbooks

import (
	"fmt"
	"strings"
	"testing"
)

// typedAliasBomb fans out through fields the decoder must descend into
// (environments -> steps -> approvers), so each level of aliases multiplies
// the work: about 1000^3 values if expanded naively.
func typedAliasBomb() string {
	var b strings.Builder
	b.WriteString("api-version: runbook/v1\nservice: s\nowner: o\nartifact: {reference: x}\nenvironments:\n")
	b.WriteString("  - &e\n    name: e\n    steps:\n      - &s\n        name: s\n        approval:\n          approvers: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("a, ", 1000), ", "))
	b.WriteString("]\n")
	b.WriteString(strings.Repeat("      - *s\n", 999))
	b.WriteString(strings.Repeat("  - *e\n", 999))
	return b.String()
}

// mergeBomb nests merge keys nine levels deep, ten sources each: 10^9
// merged entries if expanded naively.
func mergeBomb() string {
	var b strings.Builder
	b.WriteString("api-version: runbook/v1\nservice: s\nowner: o\nartifact: {reference: x}\n")
	b.WriteString("policy:\n  <<:\n    - &m0 {approval-timeout: 1h}\n")
	for i := 1; i <= 9; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "    - &m%d {<<: [%s]}\n", i, refs)
	}
	return b.String()
}

// classicBomb is the textbook billion laughs, reached through a typed
// field (environments) rather than left under an unknown key.
func classicBomb() string {
	var b strings.Builder
	b.WriteString("lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "lol%d: &l%d [%s]\n", i, i, refs)
	}
	b.WriteString("environments: *l9\n")
	return b.String()
}

func TestAliasBombs(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"typed fan-out", typedAliasBomb(), "(a YAML alias bomb?)"},
		{"merge keys", mergeBomb(), "(a YAML alias bomb?)"},
		// Never expanded: environments wants mappings, so each list is
		// refused without looking inside it.
		{"classic", classicBomb(), `an entry of "environments" must be a mapping`},
		{"self-referencing list", "environments: &y [*y]\n", `an entry of "environments" must be a mapping`},
		{"self-merging mapping", validBase + "policy: &p {<<: *p}\n", "nested more than 64 levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "bomb.yaml", tt.src)
			if !strings.Contains(ps.Error(), tt.want) {
				t.Errorf("problems do not mention %q:\n%v", tt.want, ps)
			}
			if len(ps) > maxProblems+1 {
				t.Errorf("%d problems; the list must stay bounded", len(ps))
			}
		})
	}
}

func TestAliasesWithinLimitsDecode(t *testing.T) {
	src := strings.Replace(validBase, "      - name: smoke\n", "      - &smoke\n        name: smoke\n", 1) +
		"  - name: production\n    steps: [*smoke]\n"
	rb, err := parseSafely(t, "a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := rb.Environments[1].Steps[0].HTTPCheck.URL; got != "http://127.0.0.1:8080/healthz" {
		t.Errorf("aliased step url = %q", got)
	}
}

func TestDeepNesting(t *testing.T) {
	// Deeper than yaml.v3 allows: refused by the parser, with a line.
	deep := "environments: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	ps := problemsOf(t, "deep.yaml", deep)
	wantProblemContaining(t, ps, "deep.yaml:1", "exceeded max depth")

	// Deep but parseable: the typed walk stops at the first wrong shape.
	deep = validBase + "  - name: x\n    steps: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n"
	ps = problemsOf(t, "deep.yaml", deep)
	wantProblemContaining(t, ps, "deep.yaml:13:13", `an entry of "steps" must be a mapping`)
}

func BenchmarkParseAliasBomb(b *testing.B) {
	data := []byte(typedAliasBomb())
	for b.Loop() {
		if _, err := Parse("bomb.yaml", data); err == nil {
			b.Fatal("alias bomb parsed without error")
		}
	}
}
