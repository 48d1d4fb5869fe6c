package runbooks

import (
	"strings"
	"testing"
)

func TestRecurringBlackoutRules(t *testing.T) {
	src := `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
environments:
  - name: production
    release-window:
      blackouts:
        - {last-business-days: 3, reason: financial close}
        - {from: 2026-12-24, to: 2026-12-26, last-business-days: 2}
        - {last-business-days: 12}
    steps:
      - name: smoke
        http-check: {url: "http://127.0.0.1:1/"}
`
	_, err := Parse("rb.yaml", []byte(src))
	if err == nil {
		t.Fatal("want two problems")
	}
	for _, want := range []string{
		"rb.yaml:10:66: a blackout is either dates (from, to) or last-business-days, not both",
		"rb.yaml:11:32: last-business-days 12 is out of range; use 1 to 10",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("want exactly 2 problems, got %d:\n%v", n, err)
	}
}
