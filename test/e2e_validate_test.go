package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// badRunbook has an unknown key (retries) and a drafted, unimplemented step
// kind (canary).
const badRunbook = `api-version: runbook/v1
service: shop
owner: team-e2e
artifact:
  reference: ./app.bin
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:8080/healthz
          retries: 3
      - name: shift
        canary:
          steps:
            - weight: 10
`

// position returns the 1-based line and column of the first occurrence of
// needle in text.
func position(t *testing.T, text, needle string) (line, col int) {
	t.Helper()
	i := strings.Index(text, needle)
	if i < 0 {
		t.Fatalf("%q not in the runbook", needle)
	}
	before := text[:i]
	line = strings.Count(before, "\n") + 1
	col = i - strings.LastIndex(before, "\n")
	return line, col
}

// TestValidateCLI checks `runbook validate` and `runbook schema` as a user
// runs them; no Temporal server is needed.
func TestValidateCLI(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	env := cleanEnviron()

	for _, example := range []string{"runbooks/examples/checkout.yaml", "runbooks/examples/storefront.yaml"} {
		res := runCLI(t, env, root, "validate", example)
		if res.code != 0 || !strings.Contains(res.stdout, example+": ok") {
			t.Errorf("validate the shipped example %s: %s", example, res)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(badRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, env, "", "validate", bad)
	if res.code != 1 {
		t.Errorf("validate a bad runbook: want exit 1, got %s", res)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	for _, want := range []struct{ key, says string }{
		{"retries:", "retries"},
		{"canary:", "add a traffic section"},
	} {
		line, col := position(t, badRunbook, want.key)
		prefix := fmt.Sprintf("%s:%d:%d: ", bad, line, col)
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, want.says) {
				found = true
			}
		}
		if !found {
			t.Errorf("validate does not report %q as %s...%s:\n%s", want.key, prefix, want.says, res)
		}
	}
	if len(lines) != 2 {
		t.Errorf("validate printed %d problem lines, want exactly the 2 problems:\n%s", len(lines), res.stdout)
	}

	res = runCLI(t, env, "", "schema")
	var schema map[string]any
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &schema) != nil {
		t.Fatalf("runbook schema: want JSON, got %s", res)
	}
	if !strings.Contains(res.stdout, `"http-check"`) || !strings.Contains(res.stdout, `"on-rollback"`) {
		t.Errorf("the schema does not describe http-check steps and their on-rollback hooks")
	}
}

// unsupportedPairRunbook routes through Route53 and measures with
// CloudWatch: no preset covers the pair, so error-ratio has no template.
const unsupportedPairRunbook = `api-version: runbook/v1
service: shop
owner: team-e2e
artifact:
  reference: ./app.bin
environments:
  - name: production
    traffic: {provider: route53, options: {zone-id: Z123, record: shop.example.com}, slots: {blue: {}, green: {}}}
    metrics: {provider: cloudwatch, options: {region: eu-west-1}}
    slos:
      - name: errors
        error-ratio: 0.01
    steps:
      - name: shift
        canary: {steps: [{weight: 50, bake: 1m}]}
`

// TestValidateRefusesAnSLOWithoutTemplate: `runbook validate` refuses an
// SLO kind no template covers for the runbook's router and metrics, at
// the objective's line and column, naming the template to write.
func TestValidateRefusesAnSLOWithoutTemplate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rb.yaml")
	if err := os.WriteFile(path, []byte(unsupportedPairRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	res := runCLI(t, cleanEnviron(), "", "validate", path)
	line, col := position(t, unsupportedPairRunbook, "error-ratio:")
	want := fmt.Sprintf("%s:%d:%d: error-ratio reads the metric template \"error-ratio\", which environment \"production\" does not have: no preset covers router route53 with metrics cloudwatch", path, line, col)
	if res.code != 1 || !strings.Contains(res.stdout, want) || !strings.Contains(res.stdout, "add metrics.templates.error-ratio") {
		t.Errorf("validate: want exit 1 with\n%s\ngot %s", want, res)
	}
}
