package runbooks

import (
	"strings"
	"testing"
)

// policyRunbook is a valid runbook whose policy and window the cases vary.
func policyRunbook(policy, window string) string {
	return `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
policy:
` + policy + `
environments:
  - name: production
    release-window: {` + window + `}
    approvals:
      - {name: go-live}
    steps:
      - name: smoke
        http-check: {url: "http://127.0.0.1:1/"}
`
}

func TestPolicyRules(t *testing.T) {
	for _, tc := range []struct {
		name, policy, window string
		want                 []string
	}{
		{"valid", `  break-glass: {approvers: [group:emergency]}
  risk:
    high:
      - {name: cab, approvers: [group:cab], min-approvals: 2}
      - {name: business-owner, approvers: [alice]}`, "on-closed: fail", nil},
		{"break-glass without approvers", `  break-glass: {min-approvals: 1}`, "",
			[]string{"rb.yaml:6:16: break-glass needs its emergency approvers"}},
		{"risk gate clashes with a step", `  risk:
    medium:
      - {name: smoke}`, "", []string{"rb.yaml:8:16: gate name \"smoke\" is also a step or approval of an environment"}},
		{"risk gate listed twice", `  risk:
    high:
      - {name: cab}
      - {name: cab}`, "", []string{"rb.yaml:9:16: gate \"cab\" is listed twice under high"}},
		{"min-approvals over a plain list", `  risk:
    high:
      - {name: cab, approvers: [alice], min-approvals: 2}`, "",
			[]string{"min-approvals is 2 but only 1 approver is listed"}},
		{"unknown on-closed", "  allow-self-approval: false", "on-closed: skip",
			[]string{"on-closed \"skip\" is not known; use wait"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("rb.yaml", []byte(policyRunbook(tc.policy, tc.window)))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no problem, got:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
		})
	}
}
