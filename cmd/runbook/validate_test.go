package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/runbooks"
)

func TestValidateExample(t *testing.T) {
	out, errOut, err := run(t, "validate", exampleRunbook)
	if err != nil {
		t.Fatalf("validate %s: %s", exampleRunbook, describe(out, errOut, err))
	}
	if out != exampleRunbook+": ok\n" {
		t.Errorf("stdout = %q, want %q", out, exampleRunbook+": ok\n")
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want nothing", errOut)
	}
}

const invalidRunbook = `api-version: runbook/v1
service: Checkout
owner: team-payments
artifact:
  reference: ./app
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: ftp://127.0.0.1/healthz
          method: get
`

// problemLine is file:line:col: message.
var problemLine = regexp.MustCompile(`^(.+):(\d+):(\d+): (.+)$`)

func TestValidateInvalid(t *testing.T) {
	path := writeFile(t, "bad.yaml", invalidRunbook)
	out, errOut, err := run(t, "validate", path)
	exit := asExit(t, err)
	if exit.code != 1 {
		t.Errorf("exit code %d, want 1", exit.code)
	}
	if exit.msg != "1 of 1 runbook(s) invalid" {
		t.Errorf("exit message %q", exit.msg)
	}
	want := []string{
		path + `:2:10: service "Checkout" is not a valid name`,
		path + `:11:16: url "ftp://127.0.0.1/healthz" must start with http:// or https://`,
		path + `:12:19: method "get" is not supported for http-check`,
	}
	got := lines(out)
	if len(got) != len(want) {
		t.Fatalf("want %d problem lines on stdout, got:\n%s", len(want), describe(out, errOut, err))
	}
	for i, w := range want {
		if !problemLine.MatchString(got[i]) || !strings.HasPrefix(got[i], w) {
			t.Errorf("line %d = %q, want file:line:col starting %q", i+1, got[i], w)
		}
	}
	if strings.Contains(out, ": ok") {
		t.Errorf("an invalid runbook was reported ok:\n%s", out)
	}
}

func TestValidateSeveralFiles(t *testing.T) {
	bad := writeFile(t, "bad.yaml", invalidRunbook)
	missing := bad + ".missing"
	out, _, err := run(t, "validate", exampleRunbook, bad, missing)
	exit := asExit(t, err)
	if exit.code != 1 || exit.msg != "2 of 3 runbook(s) invalid" {
		t.Errorf("exit %d %q, want 1 and 2 of 3 invalid", exit.code, exit.msg)
	}
	if !strings.Contains(out, exampleRunbook+": ok\n") {
		t.Errorf("the valid runbook is not reported ok:\n%s", out)
	}
	if !strings.Contains(out, missing+": cannot read the runbook: no such file or directory\n") {
		t.Errorf("the missing file is not reported by name:\n%s", out)
	}
}

func TestValidateNeedsAFile(t *testing.T) {
	if _, _, err := run(t, "validate"); err == nil || !strings.Contains(err.Error(), "requires at least 1 arg") {
		t.Errorf("validate without files: err = %v", err)
	}
}

func TestSchema(t *testing.T) {
	out, _, err := run(t, "schema")
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("schema output is not JSON: %v\n%.500s", err, out)
	}
	if s["$id"] != runbooks.SchemaID {
		t.Errorf("$id = %v, want %s", s["$id"], runbooks.SchemaID)
	}
	props, _ := s["properties"].(map[string]any)
	for _, key := range []string{"api-version", "service", "artifact", "environments"} {
		if _, ok := props[key]; !ok {
			t.Errorf("schema has no property %q (keys are kebab-case)", key)
		}
	}
	if !strings.HasSuffix(out, "}\n") {
		t.Errorf("schema output does not end with a newline")
	}
}
