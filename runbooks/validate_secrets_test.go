package runbooks

import (
	"strings"
	"testing"
)

// Runbooks an attacker would write to make the worker leak its secrets: each
// is refused at the line and column of the value to fix.

// checkHead is a runbook with one http-check step; cases add its fields.
const checkHead = infraHead + `    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:8080/healthz
`

func TestSecretsAttacksRefusedAtValidate(t *testing.T) {
	tests := []struct {
		name, src, where string
		fragments        []string
	}{
		{"literal bearer token", checkHead + `          headers:
            Authorization: Bearer abc
`, "s.yaml:13:28", []string{`header "Authorization" holds a credential`, "env:NAME", "RUNBOOK_ENV_ALLOW"}},
		{"literal api key header", checkHead + `          headers: {X-Api-Key: k-123}
`, "s.yaml:12:32", []string{`header "X-Api-Key" holds a credential`}},
		{"Slack token in a header", checkHead + `          headers:
            X-Exfil: env:SLACK_BOT_TOKEN
`, "s.yaml:13:22", []string{"env:SLACK_BOT_TOKEN is never readable", "SLACK_*"}},
		{"AWS key in a hook header", infraHead + `    steps:
      - name: smoke
        http-check: {url: "http://127.0.0.1:8080/"}
        on-rollback:
          url: http://127.0.0.1:8080/undo
          headers: {Authorization: env:AWS_SECRET_ACCESS_KEY}
`, "s.yaml:13:36", []string{"env:AWS_SECRET_ACCESS_KEY is never readable", "AWS_*"}},
		{"audit DSN as an infra variable", infraHead + `    infra:
      module: ./m
      vars: {x: env:RUNBOOK_AUDIT_DSN}
    steps:
      - name: p
        provision: {}
`, "s.yaml:10:17", []string{"env:RUNBOOK_AUDIT_DSN is never readable"}},
		{"Temporal key as the database", infraHead + `    database: {url: env:TEMPORAL_API_KEY, migrations: ./m}
    steps:
      - name: m
        migrate: {}
`, "s.yaml:8:21", []string{"env:TEMPORAL_API_KEY is never readable"}},
		{"edge token in a header", checkHead + `          headers: {X-T: env:RUNBOOK_EDGE_TOKEN}
`, "s.yaml:12:26", []string{"env:RUNBOOK_EDGE_TOKEN is never readable"}},
		{"literal infra password", infraHead + `    infra:
      module: ./m
      vars: {db_password: hunter2}
    steps:
      - name: p
        provision: {}
`, "s.yaml:10:27", []string{`variable "db_password" holds a credential`}},
		{"metadata by IP", infraHead + `    steps:
      - name: imds
        http-check: {url: "http://169.254.169.254/latest/meta-data/iam/security-credentials/"}
`, "s.yaml:10:27", []string{"is refused", "169.254.169.254"}},
		{"metadata by decimal IP", infraHead + `    steps:
      - name: imds
        http-check: {url: "http://2852039166/latest/meta-data/"}
`, "s.yaml:10:27", []string{`url "http://2852039166/latest/meta-data/" is refused`, "169.254.169.254"}},
		{"metadata by name", infraHead + `    steps:
      - name: gce
        http-check: {url: "http://metadata.google.internal/computeMetadata/v1/"}
`, "s.yaml:10:27", []string{"cloud metadata service"}},
		{"IPv6 link-local hook", infraHead + `    steps:
      - name: smoke
        http-check: {url: "http://127.0.0.1:8080/"}
        on-rollback: {url: "http://[fe80::1]/undo"}
`, "s.yaml:11:28", []string{"is refused", "fe80::1"}},
		{"password in a URL", infraHead + `    steps:
      - name: smoke
        http-check: {url: "http://deploy:hunter2@127.0.0.1:8080/"}
`, "s.yaml:10:27", []string{"has a password in it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "s.yaml", tt.src)
			wantProblemContaining(t, ps, tt.where, tt.fragments...)
			if strings.Contains(ps.Error(), "hunter2") {
				t.Errorf("a problem repeats the password:\n%v", ps)
			}
		})
	}
}

func TestProviderOptionsRefusedAtValidate(t *testing.T) {
	tests := []struct {
		name, from, to, where string
		fragments             []string
	}{
		{"edge admin on the metadata address", `options: {admin: "http://127.0.0.1:9901"}`, `options: {admin: "http://0xa9fea9fe/"}`,
			"t.yaml:10:24", []string{"traffic option admin", "is refused"}},
		{"prometheus on the Alibaba metadata address", `options: {address: "http://127.0.0.1:9090"}`, `options: {url: "http://100.100.100.200/"}`,
			"t.yaml:16:22", []string{"metrics option url", "is refused"}},
		{"literal prometheus token", `options: {address: "http://127.0.0.1:9090"}`, `options: {url: "http://127.0.0.1:9090", token: abc}`,
			"t.yaml:16:54", []string{`metrics option "token" holds a credential`}},
		{"Slack secret as the prometheus token", `options: {address: "http://127.0.0.1:9090"}`, `options: {token: env:SLACK_SIGNING_SECRET}`,
			"t.yaml:16:24", []string{"env:SLACK_SIGNING_SECRET is never readable"}},
		{"a slot on the metadata address", `blue: {url: "http://127.0.0.1:8081", port: "8081"}`, `blue: {url: "http://169.254.169.254", port: "8081"}`,
			"t.yaml:12:21", []string{"slot blue key url", "is refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(trafficBase, tt.from) {
				t.Fatalf("trafficBase lacks %q", tt.from)
			}
			ps := problemsOf(t, "t.yaml", strings.Replace(trafficBase, tt.from, tt.to, 1))
			wantProblemContaining(t, ps, tt.where, tt.fragments...)
		})
	}
}

// TestProductReferencesStillValidate: the edge router may read its own
// token, references to allowed-looking names and ordinary hosts pass.
func TestProductReferencesStillValidate(t *testing.T) {
	src := strings.Replace(trafficBase, `options: {admin: "http://127.0.0.1:9901"}`,
		`options: {admin: "http://127.0.0.1:9901", token: env:RUNBOOK_EDGE_TOKEN}`, 1)
	src = strings.Replace(src, `http-check: {url: "${slot.url}/healthz"}`,
		`http-check: {url: "${slot.url}/healthz", headers: {Authorization: env:CHECKOUT_TOKEN, X-Release: "${version}"}}`, 1)
	if _, err := Parse("ok.yaml", []byte(src)); err != nil {
		t.Fatalf("valid runbook refused:\n%v", err)
	}
}
