package runbooks

import (
	"strings"
	"testing"
	"time"
)

// watchBase is a valid runbook whose staging environment watches a
// three-request journey after each release.
const watchBase = `api-version: runbook/v1
service: shop
owner: team-shop
artifact:
  reference: ./app
environments:
  - name: staging
    watch-after: 30m
    on-alert: {journey: rollback}
    watch:
      - name: checkout
        every: 30s
        journey:
          requests:
            - name: login
              url: http://127.0.0.1:8080/login?v=${version}
              extract: {token: $.token}
            - name: order
              url: http://127.0.0.1:8080/orders
              headers: {Authorization: "Bearer ${journey.token}"}
              extract: {order: $.id}
            - name: read
              url: http://127.0.0.1:8080/orders/${journey.order}
    steps:
      - name: smoke
        http-check: {url: http://127.0.0.1:8080/healthz}
`

func watchEdit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(watchBase, old) {
		t.Fatalf("watchBase does not contain %q", old)
	}
	return strings.Replace(watchBase, old, new, 1)
}

func TestWatchValid(t *testing.T) {
	rb, err := parseSafely(t, "w.yaml", []byte(watchBase))
	if err != nil {
		t.Fatal(err)
	}
	e := rb.Environments[0]
	if len(e.Watch) != 1 || e.Watch[0].EveryOr() != 30*time.Second || len(e.Watch[0].Journey.Requests) != 3 ||
		e.OnAlertAction(AlertSeverityJourney) != AlertRollback {
		t.Errorf("decoded %+v", e.Watch)
	}
	rb, err = parseSafely(t, "w.yaml", []byte(watchEdit(t, "        every: 30s\n", "")))
	if err != nil {
		t.Fatal(err)
	}
	if got := rb.Environments[0].Watch[0].EveryOr(); got != time.Minute {
		t.Errorf("default every = %s, want 1m", got)
	}
}

func TestWatchProblems(t *testing.T) {
	tests := []struct {
		name, old, new, where string
		fragments             []string
	}{
		{"every too short", "every: 30s", "every: 5s", "w.yaml:12:16", []string{"every 5s is shorter than 10s"}},
		{"no journey", "        every: 30s\n        journey:\n          requests:", "        every: 30s\n        x:\n          requests:",
			"w.yaml:11:9", []string{`watch "checkout" has no journey`}},
		{"duplicate name", "      - name: checkout\n        every: 30s", "      - name: checkout\n        every: 30s\n      - name: checkout\n        journey: {requests: [{name: a, url: http://127.0.0.1:1/}]}",
			"w.yaml:13:15", []string{`watch name "checkout" is already used at line 11`}},
		{"bad name", "name: checkout", "name: Checkout", "w.yaml:11:15", []string{"watch name"}},
		{"journey ref before extract", "url: http://127.0.0.1:8080/orders\n", "url: http://127.0.0.1:8080/orders/${journey.nope}\n",
			"w.yaml:19:20", []string{"${journey.nope} is not extracted by any request before"}},
		{"output variable", "url: http://127.0.0.1:8080/orders\n", "url: http://127.0.0.1:8080/${outputs.path}\n",
			"w.yaml:19:20", []string{"${outputs.path} is not known to a watch"}},
		{"literal secret", `headers: {Authorization: "Bearer ${journey.token}"}`, `headers: {X-Api-Key: abcdef0123456789}`,
			"w.yaml:20:36", []string{"holds a credential"}},
		{"empty", "    watch:\n      - name: checkout", "    watch: []\n    x:\n      - name: checkout", "w.yaml:10:12", []string{"watch is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, "w.yaml", watchEdit(t, tc.old, tc.new))
			wantProblemContaining(t, ps, tc.where, tc.fragments...)
		})
	}
}
