package runbooks

import (
	"strings"
	"testing"
)

// journeyBase is a valid runbook with a journey: login, then an order
// created with the token, then the order read back by the ID in a header.
const journeyBase = `api-version: runbook/v1
service: shop
owner: team-shop
artifact:
  reference: ./app
environments:
  - name: staging
    steps:
      - name: buy
        journey:
          timeout: 5s
          deadline: 1m
          requests:
            - name: login
              method: POST
              url: http://127.0.0.1:8080/login
              headers: {X-Api-Key: env:SHOP_KEY}
              body: '{"user":"smoke"}'
              extract: {token: $.token}
            - name: order
              method: POST
              url: http://127.0.0.1:8080/orders?v=${version}
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-status: 201
              extract: {order: "header:Location-Id"}
            - name: read
              url: http://127.0.0.1:8080/orders/${journey.order}
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-json: {$.id: "${journey.order}", $.paid: true}
`

func journeyEdit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(journeyBase, old) {
		t.Fatalf("journeyBase does not contain %q", old)
	}
	return strings.Replace(journeyBase, old, new, 1)
}

func TestJourneyValid(t *testing.T) {
	rb, err := parseSafely(t, "j.yaml", []byte(journeyBase))
	if err != nil {
		t.Fatal(err)
	}
	s := rb.Environments[0].Steps[0]
	if s.Kind() != KindJourney || len(s.Journey.Requests) != 3 || s.Journey.Requests[2].ExpectJSON["$.paid"] != "true" ||
		s.Journey.Requests[1].Extract["order"] != "header:Location-Id" {
		t.Errorf("decoded %+v", s.Journey)
	}
}

func TestJourneyProblems(t *testing.T) {
	tests := []struct {
		name, old, new, where string
		fragments             []string
	}{
		{"used before extracted", "url: http://127.0.0.1:8080/login", "url: http://127.0.0.1:8080/login/${journey.order}",
			"j.yaml:16:20", []string{"${journey.order} is not extracted by any request before request \"login\""}},
		{"never extracted", `headers: {Authorization: "Bearer ${journey.token}"}
              expect-json`, `headers: {Authorization: "Bearer ${journey.tokn}"}
              expect-json`, "j.yaml:28:40", []string{"${journey.tokn} is not extracted"}},
		{"used by its own extractor", "body: '{\"user\":\"smoke\"}'", "body: '{\"user\":\"${journey.token}\"}'",
			"j.yaml:18:21", []string{"extracted by this request's own answer"}},
		{"outside a journey", "reference: ./app", "reference: ./app-${journey.token}",
			"j.yaml:5:14", []string{"${journey.token} is only known in a journey's requests"}},
		{"bad extract path", "extract: {token: $.token}", "extract: {token: token}",
			"j.yaml:19:32", []string{"extract token", "must start with $"}},
		{"extract of a list", "extract: {token: $.token}", "extract: {token: \"$.tokens[*]\"}",
			"j.yaml:19:32", []string{"selects a list"}},
		{"bad extract header", `"header:Location-Id"`, `"header:Location Id"`,
			"j.yaml:25:32", []string{`"Location Id" is not a header name`}},
		{"bad expect-json path", "$.paid: true", "paid: true",
			"j.yaml:29:55", []string{"expect-json", "must start with $"}},
		{"duplicate request name", "- name: read", "- name: login",
			"j.yaml:26:21", []string{`request name "login" is already used at line 14`}},
		{"literal token", `headers: {X-Api-Key: env:SHOP_KEY}`, `headers: {X-Api-Key: abcdef0123456789}`,
			"j.yaml:17:36", []string{"holds a credential"}},
		{"method", "method: POST\n              url: http://127.0.0.1:8080/login", "method: TRACE\n              url: http://127.0.0.1:8080/login",
			"j.yaml:15:23", []string{"method \"TRACE\" is not supported for journey request"}},
		{"metadata host", "http://127.0.0.1:8080/orders/", "http://169.254.169.254/orders/",
			"j.yaml:27:20", []string{"169.254.169.254"}},
		{"no requests", "          requests:\n            - name: login", "          requests: []\n          x:\n            - name: login",
			"j.yaml:13:21", []string{"at least one request"}},
		{"timeout over deadline", "timeout: 5s", "timeout: 2m", "j.yaml:11:20", []string{"longer than deadline"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, "j.yaml", journeyEdit(t, tc.old, tc.new))
			wantProblemContaining(t, ps, tc.where, tc.fragments...)
		})
	}
}

// TestJourneyBearerIsNotALiteralSecret: "Bearer ${journey.token}" carries
// a value from an earlier answer, not a credential written in the runbook;
// "Bearer abc..." still is one.
func TestJourneyBearerIsNotALiteralSecret(t *testing.T) {
	if _, err := parseSafely(t, "j.yaml", []byte(journeyBase)); err != nil {
		t.Fatal(err)
	}
	src := journeyEdit(t, `headers: {Authorization: "Bearer ${journey.token}"}
              expect-status`, `headers: {Authorization: "Bearer s3cr3t${journey.token}"}
              expect-status`)
	wantProblemContaining(t, problemsOf(t, "j.yaml", src), "j.yaml:23:40", "holds a credential")
}
