package runbooks

import (
	"strings"
	"testing"
)

const promoteSrc = `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
environments:
  - name: staging
%s    steps: [{name: smoke, http-check: {url: "http://127.0.0.1/x"}}]
  - name: production
%s    steps: [{name: smoke, http-check: {url: "http://127.0.0.1/x"}}]
`

func promoteRunbook(staging, production string) string {
	return strings.Replace(strings.Replace(promoteSrc, "%s", staging, 1), "%s", production, 1)
}

func TestPromotionProblems(t *testing.T) {
	for _, c := range []struct{ name, staging, production, want string }{
		{"unknown mode", "    promote: later\n", "", `promote "later" is not supported`},
		{"on the last environment", "", "    promote: manual\n    soak: 1h\n", `promote is about going on to the next environment, and environment "production" is the last one`},
		{"approvers without manual", "    promote-approvers: [bob]\n", "", "promote-approvers only applies with promote: manual"},
		{"soak too long", "    soak: 40d\n", "", "soak 960h0m0s must be more than 0 and at most 30d"},
		{"gate name taken", "    promote: manual\n", "    approvals: [{name: promote, approvers: [bob]}]\n", `gate name "promote" is taken by the promotion from staging`},
	} {
		_, err := Parse("rb.yaml", []byte(promoteRunbook(c.staging, c.production)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", c.name, err, c.want)
		}
	}
}

func TestWithPromotionGates(t *testing.T) {
	rb, err := Parse("rb.yaml", []byte(promoteRunbook("    promote: manual\n    soak: 2h\n", "    approvals: [{name: cab, approvers: [carol, dave]}]\n")))
	if err != nil {
		t.Fatal(err)
	}
	out := WithPromotionGates(*rb)
	g := out.Environments[1].Approvals
	if len(g) != 2 || g[0].Name != PromoteGate || strings.Join(g[0].Approvers, ",") != "carol,dave" || g[0].Timeout != DefaultPromoteTimeout || g[1].Name != "cab" {
		t.Errorf("production gates %+v, want promote (carol, dave, 7d) before cab", g)
	}
	if len(rb.Environments[1].Approvals) != 1 {
		t.Error("WithPromotionGates changed its argument's environments")
	}
}
