package runbooks

import (
	"testing"
)

const infraHead = `api-version: runbook/v1
service: checkout
owner: team-payments
artifact:
  reference: ./app
environments:
  - name: staging
`

func TestProvisionedRunbookIsValid(t *testing.T) {
	src := infraHead + `    infra:
      module: ../../infra/local
      vars: {port: "18081", binary: "${artifact}", token: env:SLOT_TOKEN}
      on-rollback: destroy
    steps:
      - name: provision
        provision: {vars: {slot: green}}
      - name: smoke
        http-check: {url: "${outputs.url}/healthz", expect-body: "${version}"}
`
	rb, err := Parse("ok.yaml", []byte(src))
	if err != nil {
		t.Fatalf("valid provisioned runbook refused:\n%v", err)
	}
	if got := rb.Environments[0].Steps[0].Kind(); got != KindProvision {
		t.Fatalf("kind = %q", got)
	}
}

func TestProvisionProblems(t *testing.T) {
	tests := []struct {
		name, src, where string
		fragments        []string
	}{
		{"provision without infra", infraHead + `    steps:
      - name: provision
        provision: {}
`, "p.yaml:10:9", []string{`provision step "provision" needs an infra section in environment "staging"`}},
		{"two provision steps", infraHead + `    infra: {module: ./m}
    steps:
      - name: one
        provision: {}
      - name: two
        provision: {}
`, "p.yaml:13:9", []string{"an environment has one provision step"}},
		{"outputs before provision", infraHead + `    infra: {module: ./m}
    steps:
      - name: smoke
        http-check: {url: "${outputs.url}/healthz"}
      - name: provision
        provision: {}
`, "p.yaml:10:9", []string{`step "smoke" uses ${outputs...}, but no provision step runs before it`}},
		{"outputs in infra vars", infraHead + `    infra: {module: ./m, vars: {x: "${outputs.url}"}}
    steps:
      - name: provision
        provision: {}
`, "p.yaml:8:36", []string{`variable "x" uses ${outputs...}`}},
		{"bad on-rollback", infraHead + `    infra: {module: ./m, on-rollback: revert}
    steps:
      - name: provision
        provision: {}
`, "p.yaml:8:39", []string{`on-rollback "revert" is not one of restore`}},
		{"module missing", infraHead + `    infra: {vars: {a: b}}
    steps:
      - name: provision
        provision: {}
`, "p.yaml:8:12", []string{"infra.module is missing"}},
		{"bad output name", infraHead + `    infra: {module: ./m}
    steps:
      - name: provision
        provision: {}
      - name: smoke
        http-check: {url: "${outputs.}/x"}
`, "p.yaml:13:27", []string{"unknown variable ${outputs.}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "p.yaml", tt.src)
			wantProblemContaining(t, ps, tt.where, tt.fragments...)
		})
	}
}
