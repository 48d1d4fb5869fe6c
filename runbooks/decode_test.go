package runbooks

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decodeOnly runs the decoder without the validator, so values the
// validator would refuse can be checked to decode too.
func decodeOnly(t *testing.T, src string) (*Runbook, Problems) {
	t.Helper()
	c := newCollector("d.yaml")
	root := readYAML(c, []byte(src))
	if root == nil {
		t.Fatalf("readYAML failed: %v", c.result())
	}
	rb := new(Runbook)
	newDecoder(c).decodeRoot(root, rb)
	return rb, c.list
}

// everyField writes every field of the schema at least once, and is valid.
const everyField = `api-version: runbook/v1
service: checkout
owner: team-payments
description: Checkout API
artifact: {reference: "./app-${version}", digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
policy:
  allow-self-approval: true
  approval-timeout: 2d
  destructive-changes-need-approval: false
environments:
  - name: prod
    region: eu-west-1
    release-window:
      timezone: Europe/Berlin
      days: [mon, fri]
      start: "09:00"
      end: "17:30"
      blackouts: [{from: 2025-12-24, to: 2025-12-26, reason: holidays}]
    approvals: [{name: mgr, approvers: [alice, bob], min-approvals: 2, timeout: 1h, instructions: look}]
    infra: {module: ./infra, vars: {size: small, slot: "${slot}"}, on-rollback: destroy}
    database: {url: "env:DB_URL", driver: postgres, migrations: ./migrations}
    traffic:
      provider: haproxy
      options: {socket: /run/haproxy.sock, backend: app}
      slots:
        blue: {url: "http://127.0.0.1:8081", server: app-blue}
        green: {url: "http://127.0.0.1:8082", server: app-green}
      rollback: gradual
    metrics:
      provider: prometheus
      options: {address: "http://127.0.0.1:9090"}
      preset: haproxy
      templates:
        queue: {description: queue depth, value: "max(queue{slot='${slot}'}[${window}])", count: "sum(increase(req{slot='${slot}'}[${window}]))", min-count: 20}
        errors-5xx: {bad: "sum(rate(e{slot='${slot}'}[${window}]))", total: "sum(rate(r{slot='${slot}'}[${window}]))", absent-bad-is-zero: true}
    slos:
      - {name: errors, error-ratio: 0.01, window: 1m}
      - {name: queue, template: queue, max: 100}
      - {name: errors-own, error-ratio: 0.02, template: errors-5xx}
      - {name: latency, latency: {percentile: 99.5, max: 300ms}}
      - {name: cpu, query: "max(cpu{slot='${slot}'})", max: 0.8}
      - {name: p50, compare: {query: "lat{slot='${slot}'}", min-samples: 5, alpha: 0.01, step: 5s}}
      - {name: budget, burn-rate: {target: 0.999, long-window: 1h, threshold: 14.4}, window: 5m}
    steps:
      - {name: a, approval: }
      - name: b
        http-check:
          url: "${slot.url}/v/${version}"
          method: POST
          headers: {X-Token: "env:TOKEN"}
          body: "{}"
          expect-status: 0xC9
          expect-body: ok
          timeout: 5s
          interval: 1500ms
          deadline: 1m
        on-rollback:
          url: "http://127.0.0.1/rollback/${version}"
          method: DELETE
          headers: {X-Reason: rollback}
          body: "{}"
          expect-status: 204
      - name: j
        journey:
          timeout: 2s
          interval: 1s
          deadline: 30s
          requests:
            - {name: login, method: POST, url: "${slot.url}/login", headers: {X-Key: "env:TOKEN"}, body: "{}", extract: {token: $.token, id: "header:X-Id"}}
            - name: read
              url: "${slot.url}/orders/${journey.id}"
              headers: {Authorization: "Bearer ${journey.token}"}
              expect-status: 200
              expect-body: ok
              expect-json: {$.id: "${journey.id}", $.paid: true}
      - {name: c, provision: {vars: {a: b}}}
      - {name: d, migrate: {phase: expand, to: 3}}
      - {name: e, canary: {steps: [{weight: 10, bake: 1m}, {weight: 100}], analysis-interval: 10s}}
  - name: eu
    traffic: {provider: edge, slots: {a: {}, b: {}}}
    steps: [{name: f, linear: {increment: 20, every: 2m, analysis-interval: 5s}}]
  - name: us
    traffic: {provider: alb, slots: {a: , b: }}
    steps: [{name: g, blue-green: {rollback-window: 1h, analysis-interval: 5s}}]
  - name: ap
    traffic: {provider: route53, slots: {a: {}, b: {}}, rollback: immediate}
    steps: [{name: h, all-at-once: {bake: 2m, analysis-interval: 5s}}]
  - name: fl
    flags: {provider: file, options: {path: /var/lib/flags.json}}
    steps: [{name: k, flag: {flags: [new-checkout], stages: [{percentage: 10, bake: 1m}, {segments: [beta]}, {off: true}], analysis-interval: 5s}}]
`

func everyFieldWant() *Runbook {
	f, no, ten := 0.01, false, 10
	p995, cpuMax, queueMax, f2 := 99.5, 0.8, 100.0, 0.02
	slots := func() map[string]map[string]string { return map[string]map[string]string{"a": nil, "b": nil} }
	return &Runbook{
		APIVersion: "runbook/v1", Service: "checkout", Owner: "team-payments", Description: "Checkout API",
		Artifact: Artifact{Reference: "./app-${version}", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		Policy:   Policy{AllowSelfApproval: true, ApprovalTimeout: Duration(48 * time.Hour), DestructiveChangesNeedApproval: &no},
		Environments: []Environment{{
			Name: "prod", Region: "eu-west-1",
			ReleaseWindow: &ReleaseWindow{Timezone: "Europe/Berlin", Days: []string{"mon", "fri"}, Start: "09:00", End: "17:30",
				Blackouts: []Blackout{{From: "2025-12-24", To: "2025-12-26", Reason: "holidays"}}},
			Approvals: []Approval{{Name: "mgr", Approvers: []string{"alice", "bob"}, MinApprovals: 2, Timeout: Duration(time.Hour), Instructions: "look"}},
			Infra:     &Infra{Module: "./infra", Vars: map[string]string{"size": "small", "slot": "${slot}"}, OnRollback: "destroy"},
			Database:  &Database{URL: "env:DB_URL", Driver: "postgres", Migrations: "./migrations"},
			Traffic: &Traffic{Provider: "haproxy", Options: map[string]string{"socket": "/run/haproxy.sock", "backend": "app"},
				Slots: map[string]map[string]string{
					"blue":  {"url": "http://127.0.0.1:8081", "server": "app-blue"},
					"green": {"url": "http://127.0.0.1:8082", "server": "app-green"},
				}, Rollback: "gradual"},
			Metrics: &Metrics{Provider: "prometheus", Options: map[string]string{"address": "http://127.0.0.1:9090"}, Preset: "haproxy",
				Templates: map[string]MetricTemplate{
					"queue":      {Description: "queue depth", Value: "max(queue{slot='${slot}'}[${window}])", Count: "sum(increase(req{slot='${slot}'}[${window}]))", MinCount: 20},
					"errors-5xx": {Bad: "sum(rate(e{slot='${slot}'}[${window}]))", Total: "sum(rate(r{slot='${slot}'}[${window}]))", AbsentBadIsZero: true},
				}},
			SLOs: []SLO{
				{Name: "errors", ErrorRatio: &f, Window: Duration(time.Minute)},
				{Name: "queue", Template: "queue", Max: &queueMax},
				{Name: "errors-own", ErrorRatio: &f2, Template: "errors-5xx"},
				{Name: "latency", Latency: &Latency{Percentile: p995, Max: Duration(300 * time.Millisecond)}},
				{Name: "cpu", Query: "max(cpu{slot='${slot}'})", Max: &cpuMax},
				{Name: "p50", Compare: &Compare{Query: "lat{slot='${slot}'}", MinSamples: 5, Alpha: 0.01, Step: Duration(5 * time.Second)}},
				{Name: "budget", BurnRate: &BurnRate{Target: 0.999, LongWindow: Duration(time.Hour), Threshold: 14.4}, Window: Duration(5 * time.Minute)},
			},
			Steps: []Step{
				{Name: "a", Approval: &ApprovalStep{}},
				{Name: "b", HTTPCheck: &HTTPCheckStep{URL: "${slot.url}/v/${version}", Method: "POST",
					Headers: map[string]string{"X-Token": "env:TOKEN"}, Body: "{}", ExpectStatus: 201, ExpectBody: "ok",
					Timeout: Duration(5 * time.Second), Interval: Duration(1500 * time.Millisecond), Deadline: Duration(time.Minute)},
					OnRollback: &HTTPHook{URL: "http://127.0.0.1/rollback/${version}", Method: "DELETE",
						Headers: map[string]string{"X-Reason": "rollback"}, Body: "{}", ExpectStatus: 204}},
				{Name: "j", Journey: &JourneyStep{Timeout: Duration(2 * time.Second), Interval: Duration(time.Second), Deadline: Duration(30 * time.Second),
					Requests: []JourneyRequest{
						{Name: "login", Method: "POST", URL: "${slot.url}/login", Headers: map[string]string{"X-Key": "env:TOKEN"}, Body: "{}",
							Extract: map[string]string{"token": "$.token", "id": "header:X-Id"}},
						{Name: "read", URL: "${slot.url}/orders/${journey.id}", Headers: map[string]string{"Authorization": "Bearer ${journey.token}"},
							ExpectStatus: 200, ExpectBody: "ok", ExpectJSON: map[string]string{"$.id": "${journey.id}", "$.paid": "true"}},
					}}},
				{Name: "c", Provision: &ProvisionStep{Vars: map[string]string{"a": "b"}}},
				{Name: "d", Migrate: &MigrateStep{Phase: "expand", To: 3}},
				{Name: "e", Canary: &CanaryStep{Steps: []CanaryWeight{{Weight: 10, Bake: Duration(time.Minute)}, {Weight: 100}},
					AnalysisInterval: Duration(10 * time.Second)}},
			},
		}, {
			Name: "eu", Traffic: &Traffic{Provider: "edge", Slots: slots()},
			Steps: []Step{{Name: "f", Linear: &LinearStep{Increment: 20, Every: Duration(2 * time.Minute), AnalysisInterval: Duration(5 * time.Second)}}},
		}, {
			Name: "us", Traffic: &Traffic{Provider: "alb", Slots: slots()},
			Steps: []Step{{Name: "g", BlueGreen: &BlueGreenStep{RollbackWindow: Duration(time.Hour), AnalysisInterval: Duration(5 * time.Second)}}},
		}, {
			Name: "ap", Traffic: &Traffic{Provider: "route53", Slots: slots(), Rollback: "immediate"},
			Steps: []Step{{Name: "h", AllAtOnce: &AllAtOnceStep{Bake: Duration(2 * time.Minute), AnalysisInterval: Duration(5 * time.Second)}}},
		}, {
			Name: "fl", Flags: &Flags{Provider: "file", Options: map[string]string{"path": "/var/lib/flags.json"}},
			Steps: []Step{{Name: "k", Flag: &FlagStep{Flags: []string{"new-checkout"}, AnalysisInterval: Duration(5 * time.Second),
				Stages: []FlagStage{{Percentage: &ten, Bake: Duration(time.Minute)}, {Segments: []string{"beta"}}, {Off: true}}}}},
		}},
	}
}

func TestDecodeEveryField(t *testing.T) {
	rb, ps := decodeOnly(t, everyField)
	if len(ps) != 0 {
		t.Fatalf("decode problems:\n%v", ps)
	}
	if want := everyFieldWant(); !reflect.DeepEqual(rb, want) {
		t.Errorf("decoded\n%#v\nwant\n%#v", rb, want)
	}
	assertJSONRoundTrip(t, rb)
}

// everyField is also a valid runbook: every step kind and section is
// implemented, and the validated runbook survives the workflow input's
// JSON round trip.
func TestEveryFieldIsValid(t *testing.T) {
	rb, err := parseSafely(t, "d.yaml", []byte(everyField))
	if err != nil {
		t.Fatalf("everyField refused:\n%v", err)
	}
	want := everyFieldWant()
	// Parse adds the preset's templates under the runbook's own.
	m := want.Environments[0].Metrics
	own := m.Templates
	m.Templates = PresetTemplates(&want.Environments[0])
	for name, t := range m.Templates {
		t.From = "preset haproxy"
		m.Templates[name] = t
	}
	maps.Copy(m.Templates, own)
	if !reflect.DeepEqual(rb, want) {
		t.Errorf("parsed\n%#v\nwant\n%#v", rb, want)
	}
	assertJSONRoundTrip(t, rb)
	var kinds []string
	for _, e := range rb.Environments {
		for _, s := range e.Steps {
			kinds = append(kinds, s.Kind())
		}
	}
	if !reflect.DeepEqual(kinds, stepKinds) {
		t.Errorf("everyField has the kinds %v, want each of %v once", kinds, stepKinds)
	}
}

func TestDecodeDetails(t *testing.T) {
	tests := []struct {
		name, src string
		check     func(*Runbook) bool
	}{
		{"text from other scalars", "owner: 123\ndescription: true\n", func(rb *Runbook) bool {
			return rb.Owner == "123" && rb.Description == "true"
		}},
		{"null leaves defaults", "policy:\n  destructive-changes-need-approval: ~\n  approval-timeout:\n", func(rb *Runbook) bool {
			return rb.Policy.DestructiveChangesNeedApproval == nil && rb.Policy.ApprovalTimeout == 0
		}},
		{"empty lists and maps stay nil", "environments: []\nartifact: {}\n", func(rb *Runbook) bool {
			return rb.Environments == nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, ps := decodeOnly(t, tt.src)
			if len(ps) != 0 {
				t.Fatalf("problems: %v", ps)
			}
			if !tt.check(rb) {
				t.Errorf("decoded %+v", rb)
			}
		})
	}
}

func TestMergeKeys(t *testing.T) {
	src := strings.Replace(validBase, "        http-check:\n          url: http://127.0.0.1:8080/healthz\n",
		"        http-check: &base\n          url: http://127.0.0.1:8080/healthz\n          timeout: 5s\n", 1) +
		"  - name: production\n    steps:\n      - name: smoke\n        http-check:\n" +
		"          <<: [*base, {timeout: 9s, deadline: 1m}]\n          url: http://127.0.0.1:9090/healthz\n"
	rb, err := parseSafely(t, "m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h := rb.Environments[1].Steps[0].HTTPCheck
	if h.URL != "http://127.0.0.1:9090/healthz" || h.Timeout.D() != 5*time.Second || h.Deadline.D() != time.Minute {
		t.Errorf("merged http-check = %+v; want own url, first source's timeout, second's deadline", h)
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name, src, where, fragment string
	}{
		{"nan", "environments: [{slos: [{error-ratio: .nan}]}]\n", "d.yaml:1:38", `"error-ratio" must be a finite number`},
		{"binary tag", "owner: !!binary aGVsbG8=\n", "d.yaml:1:8", "the tag !!binary is not supported here"},
		{"custom tag", "owner: !team payments\n", "d.yaml:1:8", "the tag !team is not supported here"},
		{"list key", "? [a]\n: b\n", "d.yaml:1:3", "keys must be plain names; got a list"},
		{"huge int", "environments: [{steps: [{http-check: {expect-status: 18446744073709551615}}]}]\n", "d.yaml:1:54", "18446744073709551615 is too large"},
		{"float for int", "environments: [{steps: [{http-check: {expect-status: 200.5}}]}]\n", "d.yaml:1:54", `"expect-status" must be a whole number; got the number 200.5`},
		{"bool word", "policy: {allow-self-approval: on}\n", "d.yaml:1:31", `must be true or false; got the text "on"`},
		{"map value list", "environments: [{steps: [{http-check: {headers: {A: [x]}}}]}]\n", "d.yaml:1:52", `"A" in "headers" must be text; got a list`},
		{"merge of text", "policy: {<<: x}\n", "d.yaml:1:14", "a merge (<<) takes a mapping or a list of mappings"},
		{"negative duration", "policy: {approval-timeout: -5m}\n", "d.yaml:1:28", `duration "-5m" is negative`},
		{"overflowing days", "policy: {approval-timeout: 999999d}\n", "d.yaml:1:28", `duration "999999d" is too long`},
		{"unknown kind key", "environments: [{steps: [{kind: canary}]}]\n", "d.yaml:1:26", "a step's kind is its key"},
		{"snake case", "api_version: runbook/v1\n", "d.yaml:1:1", `unknown key "api_version"; did you mean "api-version"?`},
		{"camel case", "apiVersion: runbook/v1\n", "d.yaml:1:1", `did you mean "api-version"?`},
		{"unknown variable", "description: deploy ${verison}\n", "d.yaml:1:14", "unknown variable ${verison}; " + knownVariablesHint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := decodeOnly(t, tt.src)
			wantProblemContaining(t, ps, tt.where, tt.fragment)
		})
	}
}
