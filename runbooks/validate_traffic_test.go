package runbooks

import (
	"strings"
	"testing"
	"time"
)

// trafficBase is a valid runbook with a traffic shift; tests edit it.
const trafficBase = `api-version: runbook/v1
service: checkout
owner: team-payments
artifact:
  reference: ./app
environments:
  - name: production
    traffic:
      provider: edge
      options: {admin: "http://127.0.0.1:9901"}
      slots:
        blue: {url: "http://127.0.0.1:8081", port: "8081"}
        green: {url: "http://127.0.0.1:8082", port: "8082"}
    metrics:
      provider: prometheus
      options: {address: "http://127.0.0.1:9090"}
    slos:
      - name: errors
        error-ratio: 0.01
    infra:
      module: ./infra
      vars: {slot: "${slot}", port: "${slot.port}"}
    steps:
      - name: provision
        provision: {}
      - name: smoke
        http-check: {url: "${slot.url}/healthz"}
      - name: shift
        canary:
          steps:
            - weight: 10
              bake: 1m
            - weight: 100
          analysis-interval: 5s
`

// The lines of trafficBase that cases edit.
const (
	tbProvider = "      provider: edge\n"
	tbSlots    = "        blue: {url: \"http://127.0.0.1:8081\", port: \"8081\"}\n        green: {url: \"http://127.0.0.1:8082\", port: \"8082\"}\n"
	tbGreen    = "        green: {url: \"http://127.0.0.1:8082\", port: \"8082\"}\n"
	tbSLO      = "      - name: errors\n        error-ratio: 0.01\n"
	tbCanary   = "        canary:\n          steps:\n            - weight: 10\n              bake: 1m\n            - weight: 100\n          analysis-interval: 5s\n"
	tbTraffic  = "    traffic:\n      provider: edge\n      options: {admin: \"http://127.0.0.1:9901\"}\n      slots:\n" + tbSlots
)

// editTraffic returns trafficBase with old replaced by new, failing if old
// is absent.
func editTraffic(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(trafficBase, old) {
		t.Fatalf("trafficBase does not contain %q", old)
	}
	return strings.Replace(trafficBase, old, new, 1)
}

// slo replaces the SLO of trafficBase with the given lines.
func slo(lines string) [2]string { return [2]string{tbSLO, lines} }

// step replaces the canary of trafficBase with the given kind lines.
func step(lines string) [2]string { return [2]string{tbCanary, lines} }

type trafficCase struct {
	name   string
	edit   [2]string // old, new
	want   string    // the exact problem, file:line:col: message
	others int       // how many other problems the edit causes
}

func runTrafficCases(t *testing.T, tests []trafficCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "t.yaml", editTraffic(t, tt.edit[0], tt.edit[1]))
			wantProblem(t, ps, tt.want)
			if len(ps) != 1+tt.others {
				t.Errorf("got %d problems, want %d:\n%s", len(ps), 1+tt.others, indent(ps.Error()))
			}
		})
	}
}

func TestTrafficBaseIsValid(t *testing.T) {
	rb, err := parseSafely(t, "t.yaml", []byte(trafficBase))
	if err != nil {
		t.Fatalf("trafficBase refused:\n%v", err)
	}
	assertJSONRoundTrip(t, rb)
}

func TestTrafficSectionProblems(t *testing.T) {
	runTrafficCases(t, []trafficCase{
		{"provider missing", [2]string{tbProvider, ""},
			`t.yaml:9:7: traffic.provider is missing; add one of edge, haproxy, alb or route53`, 0},
		{"provider empty", [2]string{tbProvider, "      provider: \"\"\n"},
			`t.yaml:9:17: traffic.provider is empty; add one of edge, haproxy, alb or route53`, 0},
		{"provider typo", [2]string{tbProvider, "      provider: HAProxy\n"},
			`t.yaml:9:17: traffic provider "HAProxy" is not supported; did you mean "haproxy"? (use edge, haproxy, alb or route53)`, 0},
		{"provider unknown", [2]string{tbProvider, "      provider: nginx\n"},
			`t.yaml:9:17: traffic provider "nginx" is not supported; use edge, haproxy, alb or route53`, 0},
		{"option name empty", [2]string{`options: {admin: "http://127.0.0.1:9901"}`, `options: {"": x}`},
			`t.yaml:10:17: option name is empty; write name: value`, 0},
		{"slots missing", [2]string{"      slots:\n" + tbSlots, ""},
			`t.yaml:9:7: traffic.slots is missing; name the two backends the versions alternate between, e.g. slots: {blue: {}, green: {}}`, 0},
		{"one slot", [2]string{tbGreen, ""},
			`t.yaml:12:9: traffic.slots names 1 slot; a release alternates between exactly two (the live one and the target), e.g. blue and green`, 0},
		{"three slots", [2]string{tbGreen, tbGreen + "        red: {url: x, port: y}\n"},
			`t.yaml:12:9: traffic.slots names 3 slots; a release alternates between exactly two (the live one and the target), e.g. blue and green`, 0},
		{"slots not a mapping", [2]string{"      slots:\n" + tbSlots, "      slots: [blue, green]\n"},
			`t.yaml:11:14: "slots" must be a mapping (name: value lines); got a list`, 0},
		{"slot name", [2]string{"        green:", "        Green:"},
			`t.yaml:13:9: slot name "Green" is not valid; use lowercase letters, digits and dashes, starting with a letter, at most 63 characters (^[a-z][a-z0-9-]{0,62}$)`, 0},
		{"slot key", [2]string{`port: "8082"}`, `port: "8082", "bad key": x}`},
			`t.yaml:13:61: slot key "bad key" is not valid; use letters, digits, _ and -, starting with a letter or _ (steps read it as ${slot.KEY})`, 0},
		{"slot lacks a key", [2]string{`green: {url: "http://127.0.0.1:8082", port: "8082"}`, `green: {url: "http://127.0.0.1:8082"}`},
			`t.yaml:13:9: slot "green" has no key "port", which slot "blue" has (line 12); give both slots the same keys, so ${slot.port} has a value whichever slot is the target`, 0},
		{"slot value uses a slot variable", [2]string{`port: "8082"}`, `port: "${slot.url}"}`},
			`t.yaml:13:53: a slot value cannot use ${slot.url}: variables are replaced once, so it would stay as written; write the value itself`, 0},
		{"rollback typo", [2]string{tbGreen, tbGreen + "      rollback: gradually\n"},
			`t.yaml:14:17: traffic.rollback "gradually" is not supported; did you mean "gradual"? (use immediate (the default: all traffic back at once) or gradual (in steps, for a cold live side))`, 0},
		{"rollback unknown", [2]string{tbGreen, tbGreen + "      rollback: never\n"},
			`t.yaml:14:17: traffic.rollback "never" is not supported; use immediate (the default: all traffic back at once) or gradual (in steps, for a cold live side)`, 0},
		{"metrics provider typo", [2]string{"provider: prometheus", "provider: promethus"},
			`t.yaml:15:17: metrics provider "promethus" is not supported; did you mean "prometheus"? (use edge, prometheus, cloudwatch or web)`, 0},
		{"metrics provider missing", [2]string{"      provider: prometheus\n", ""},
			`t.yaml:15:7: metrics.provider is missing; add one of edge, prometheus, cloudwatch or web`, 0},
		{"metrics option name empty", [2]string{`options: {address: "http://127.0.0.1:9090"}`, `options: {" ": x}`},
			`t.yaml:16:17: option name is empty; write name: value`, 0},
	})
}

func TestTrafficStepProblems(t *testing.T) {
	runTrafficCases(t, []trafficCase{
		{"canary without traffic", [2]string{tbTraffic, ""},
			`t.yaml:23:9: canary step "shift" moves traffic, so it needs a router; add a traffic section to environment "production" (traffic: {provider: edge, slots: {blue: {}, green: {}}})`, 3},
		{"two traffic steps", [2]string{tbCanary, tbCanary + "      - name: rest\n        all-at-once: {}\n"},
			`t.yaml:36:9: step "rest": an environment has one traffic step, and step "shift" (canary) at line 29 already moves the traffic; remove one of them or move it to another environment`, 0},
		{"canary steps missing", step("        canary: {analysis-interval: 5s}\n"),
			`t.yaml:29:17: canary steps is missing; list the new version's weights, e.g. steps: [{weight: 10, bake: 5m}, {weight: 100}]`, 0},
		{"canary steps empty", step("        canary: {steps: []}\n"),
			`t.yaml:29:25: canary steps is empty; list the new version's weights, e.g. steps: [{weight: 10, bake: 5m}, {weight: 100}]`, 0},
		{"canary weight missing", step("        canary:\n          steps:\n            - bake: 1m\n"),
			`t.yaml:31:15: canary weight is missing; add weight: with the new version's share of traffic (1 to 100)`, 0},
		{"canary weight zero", step("        canary: {steps: [{weight: 0}]}\n"),
			`t.yaml:29:35: canary weight 0 is not a share of traffic; use a whole number from 1 to 100`, 0},
		{"canary weight above 100", step("        canary: {steps: [{weight: 50}, {weight: 101}]}\n"),
			`t.yaml:29:49: canary weight 101 is not a share of traffic; use a whole number from 1 to 100`, 0},
		{"canary weight not rising", step("        canary:\n          steps:\n            - weight: 20\n            - weight: 20\n"),
			`t.yaml:32:23: weight 20 does not rise above the weight before it (20, line 31); canary weights go up step by step`, 0},
		{"canary weight text", step("        canary: {steps: [{weight: ten}]}\n"),
			`t.yaml:29:35: "weight" must be a whole number; got the text "ten"`, 0},
		{"canary bake negative", step("        canary: {steps: [{weight: 10, bake: -1m}]}\n"),
			`t.yaml:29:45: "bake": duration "-1m" is negative`, 0},
		{"canary analysis-interval", step("        canary: {steps: [{weight: 10}], analysis-interval: 500ms}\n"),
			`t.yaml:29:60: analysis-interval 500ms is shorter than 1s; metrics are not finer than that, so use 1s or more, or leave it out for the default of 10s`, 0},
		{"linear increment missing", step("        linear: {every: 1m}\n"),
			`t.yaml:29:17: linear increment is missing; add the percentage points added each time, e.g. increment: 20`, 0},
		{"linear increment zero", step("        linear: {increment: 0, every: 1m}\n"),
			`t.yaml:29:29: linear increment 0 is not a share of traffic; use a whole number from 1 to 100`, 0},
		{"linear increment above 100", step("        linear: {increment: 120, every: 1m}\n"),
			`t.yaml:29:29: linear increment 120 is not a share of traffic; use a whole number from 1 to 100`, 0},
		{"linear every missing", step("        linear: {increment: 10}\n"),
			`t.yaml:29:17: linear every is missing; add how long each weight bakes, e.g. every: 2m`, 0},
		{"linear every short", step("        linear: {increment: 10, every: 999ms}\n"),
			`t.yaml:29:40: every 999ms is shorter than 1s; each weight must bake long enough to be analysed, e.g. every: 2m`, 0},
		{"linear analysis-interval", step("        linear: {increment: 10, every: 1m, analysis-interval: 0s}\n"),
			`t.yaml:29:63: analysis-interval 0s is shorter than 1s; metrics are not finer than that, so use 1s or more, or leave it out for the default of 10s`, 0},
		{"blue-green rollback-window negative", step("        blue-green: {rollback-window: -5m}\n"),
			`t.yaml:29:39: "rollback-window": duration "-5m" is negative`, 0},
		{"blue-green analysis-interval", step("        blue-green: {analysis-interval: 10ms}\n"),
			`t.yaml:29:41: analysis-interval 10ms is shorter than 1s; metrics are not finer than that, so use 1s or more, or leave it out for the default of 10s`, 0},
		{"all-at-once bake negative", step("        all-at-once: {bake: -1s}\n"),
			`t.yaml:29:29: "bake": duration "-1s" is negative`, 0},
		{"all-at-once analysis-interval", step("        all-at-once: {bake: 1m, analysis-interval: 0.5s}\n"),
			`t.yaml:29:52: analysis-interval 500ms is shorter than 1s; metrics are not finer than that, so use 1s or more, or leave it out for the default of 10s`, 0},
	})
}

func TestSLOProblems(t *testing.T) {
	runTrafficCases(t, []trafficCase{
		{"slos without metrics", [2]string{"    metrics:\n      provider: prometheus\n      options: {address: \"http://127.0.0.1:9090\"}\n", ""},
			`t.yaml:14:5: slos need a metrics section in environment "production" to read from; add metrics: {provider: prometheus, options: {url: http://127.0.0.1:9090}}`, 0},
		{"slos without a traffic step", step("        approval: {}\n"),
			`t.yaml:17:5: slos are analysed during a traffic or flag step; add one or remove slos (environment "production" has no canary, linear, blue-green, all-at-once or flag step)`, 0},
		{"name missing", slo("      - error-ratio: 0.01\n"),
			`t.yaml:18:9: SLO name is missing; add it (lowercase letters, digits and dashes, starting with a letter)`, 0},
		{"name invalid", slo("      - name: Errors\n        error-ratio: 0.01\n"),
			`t.yaml:18:15: SLO name "Errors" is not a valid name; use lowercase letters, digits and dashes, starting with a letter, at most 63 characters (^[a-z][a-z0-9-]{0,62}$)`, 0},
		{"name twice", slo(tbSLO + "      - name: errors\n        error-ratio: 0.05\n"),
			`t.yaml:20:15: SLO name "errors" is already used at line 18; the slos of an environment need distinct names (the status reports them by name)`, 0},
		{"no objective", slo("      - name: errors\n        window: 1m\n"),
			`t.yaml:18:9: SLO "errors" has no objective; add one of error-ratio, latency, query (with max), template (with max), compare or burn-rate`, 0},
		{"two objectives", slo("      - name: errors\n        error-ratio: 0.01\n        burn-rate: {target: 0.99, long-window: 1h, threshold: 2}\n"),
			`t.yaml:18:9: SLO "errors" has several objectives (error-ratio, burn-rate); an SLO has exactly one, so split it into separate slos`, 0},
		{"error-ratio negative", slo("      - name: errors\n        error-ratio: -0.1\n"),
			`t.yaml:19:22: error-ratio -0.1 is not a ratio; use a number from 0 to 1, e.g. 0.01 for 1% of responses`, 0},
		{"error-ratio above 1", slo("      - name: errors\n        error-ratio: 1.01\n"),
			`t.yaml:19:22: error-ratio 1.01 is not a ratio; use a number from 0 to 1, e.g. 0.01 for 1% of responses`, 0},
		{"error-ratio null", slo("      - name: errors\n        error-ratio:\n"),
			`t.yaml:19:21: error-ratio has no value; write the highest passing share of 5xx responses, e.g. 0.01 for 1%`, 0},
		{"latency percentile missing", slo("      - name: p99\n        latency: {max: 300ms}\n"),
			`t.yaml:19:18: latency percentile is missing; add e.g. percentile: 99 for p99`, 0},
		{"latency percentile zero", slo("      - name: p99\n        latency: {percentile: 0, max: 300ms}\n"),
			`t.yaml:19:31: percentile 0 must be more than 0 and less than 100, e.g. 99 for p99`, 0},
		{"latency percentile 100", slo("      - name: p99\n        latency: {percentile: 100, max: 300ms}\n"),
			`t.yaml:19:31: percentile 100 must be more than 0 and less than 100, e.g. 99 for p99`, 0},
		{"latency max missing", slo("      - name: p99\n        latency: {percentile: 99}\n"),
			`t.yaml:19:18: latency max is missing; add the highest passing latency, e.g. max: 300ms`, 0},
		{"latency max zero", slo("      - name: p99\n        latency: {percentile: 99, max: 0s}\n"),
			`t.yaml:19:40: latency max must be longer than 0, e.g. 300ms`, 0},
		{"query without max", slo("      - name: fds\n        query: max(open_fds)\n"),
			`t.yaml:19:16: query needs max, the highest passing value; add max: next to it, e.g. max: 0.5`, 0},
		{"query empty", slo("      - name: fds\n        query: \"\"\n        max: 10\n"),
			`t.yaml:19:16: query is empty; write the provider query, e.g. PromQL for prometheus`, 0},
		{"max without query", slo("      - name: errors\n        error-ratio: 0.01\n        max: 10\n"),
			`t.yaml:20:9: max only bounds a query or a template's value; add the query it bounds, or remove max`, 0},
		{"compare query missing", slo("      - name: cmp\n        compare: {alpha: 0.05}\n"),
			`t.yaml:19:18: compare.query is missing; write the query of one side, using ${slot} for the side's slot, or name a template with template:`, 0},
		{"compare query without slot", slo("      - name: cmp\n        compare: {query: latency_seconds}\n"),
			`t.yaml:19:26: compare.query does not use ${slot}; both sides would measure the same series, so select the side's slot with it`, 0},
		{"compare query with a slot key", slo("      - name: cmp\n        compare: {query: \"x{port='${slot.port}'}\"}\n"),
			`t.yaml:19:26: compare.query uses ${slot.port}, which is the target slot's value on both sides; select each side with ${slot} (its slot's name) instead`, 0},
		{"compare min-samples", slo("      - name: cmp\n        compare: {query: \"x{slot='${slot}'}\", min-samples: 2}\n"),
			`t.yaml:19:60: min-samples 2 is too few to compare; use 3 or more, or leave it out for the default of 10`, 0},
		{"compare alpha zero", slo("      - name: cmp\n        compare: {query: \"x{slot='${slot}'}\", alpha: 0}\n"),
			`t.yaml:19:54: alpha 0 must be more than 0 and less than 1, e.g. 0.05 (the default)`, 0},
		{"compare alpha one", slo("      - name: cmp\n        compare: {query: \"x{slot='${slot}'}\", alpha: 1}\n"),
			`t.yaml:19:54: alpha 1 must be more than 0 and less than 1, e.g. 0.05 (the default)`, 0},
		{"burn-rate target missing", slo("      - name: budget\n        burn-rate: {long-window: 1h, threshold: 14.4}\n"),
			`t.yaml:19:20: burn-rate target is missing; add the SLO target, e.g. target: 0.999`, 0},
		{"burn-rate target one", slo("      - name: budget\n        burn-rate: {target: 1, long-window: 1h, threshold: 14.4}\n"),
			`t.yaml:19:29: target 1 must be more than 0 and less than 1, e.g. 0.999 for 99.9%`, 0},
		{"burn-rate target zero", slo("      - name: budget\n        burn-rate: {target: 0, long-window: 1h, threshold: 14.4}\n"),
			`t.yaml:19:29: target 0 must be more than 0 and less than 1, e.g. 0.999 for 99.9%`, 0},
		{"burn-rate long-window missing", slo("      - name: budget\n        burn-rate: {target: 0.999, threshold: 14.4}\n"),
			`t.yaml:19:20: burn-rate long-window is missing; add the long window, e.g. long-window: 1h`, 0},
		{"burn-rate long-window zero", slo("      - name: budget\n        burn-rate: {target: 0.999, long-window: 0s, threshold: 14.4}\n"),
			`t.yaml:19:49: long-window must be longer than 0, e.g. 1h`, 0},
		{"burn-rate threshold missing", slo("      - name: budget\n        burn-rate: {target: 0.999, long-window: 1h}\n"),
			`t.yaml:19:20: burn-rate threshold is missing; add the burn rate that fails, e.g. threshold: 14.4`, 0},
		{"burn-rate threshold zero", slo("      - name: budget\n        burn-rate: {target: 0.999, long-window: 1h, threshold: 0}\n"),
			`t.yaml:19:64: threshold 0 must be more than 0, e.g. 14.4`, 0},
		{"window short", slo(tbSLO + "        window: 900ms\n"),
			`t.yaml:20:17: window 900ms is shorter than 1s; use 1s or more, or leave it out to measure over the analysis interval`, 0},
	})
}

func TestSlotVariableProblems(t *testing.T) {
	runTrafficCases(t, []trafficCase{
		{"slot without traffic", [2]string{tbCanary, tbCanary + "  - name: staging\n    steps:\n      - name: smoke\n        http-check: {url: \"http://127.0.0.1/${slot}\"}\n"},
			`t.yaml:38:27: ${slot} needs a traffic section in environment "staging": its slots say which one the new version goes to; add traffic: {provider: ..., slots: {...}} or remove the variable`, 0},
		{"live-slot outside environments", [2]string{"owner: team-payments\n", "owner: team-payments\ndescription: from ${live-slot}\n"},
			`t.yaml:4:14: ${live-slot} is only known in the steps and sections of an environment with a traffic section; remove it here`, 0},
		{"slot key typo", [2]string{`url: "${slot.url}/healthz"`, `url: "${slot.ulr}/healthz"`},
			`t.yaml:27:27: ${slot.ulr}: the slots of environment "production" have no key "ulr"; did you mean ${slot.url}?`, 0},
		{"slot key unknown", [2]string{`url: "${slot.url}/healthz"`, `url: "${slot.address}/healthz"`},
			`t.yaml:27:27: ${slot.address}: the slots of environment "production" have no key "address"; add address: to both slots or use one of: port, url`, 0},
		{"slots without keys", [2]string{tbSlots, "        blue:\n        green:\n"},
			`t.yaml:22:37: ${slot.port}: the slots of environment "production" have no key "port"; add port: to both slots (they have no keys yet)`, 1},
		{"slot key in an SLO", slo("      - name: fds\n        query: \"fds{port='${slot.prot}'}\"\n        max: 10\n"),
			`t.yaml:19:16: ${slot.prot}: the slots of environment "production" have no key "prot"; did you mean ${slot.port}?`, 0},
	})
}

func TestTrafficValidVariants(t *testing.T) {
	const (
		slos    = "    slos:\n" + tbSLO
		metrics = "    metrics:\n      provider: prometheus\n      options: {address: \"http://127.0.0.1:9090\"}\n"
		shift   = "      - name: shift\n" + tbCanary
	)
	tests := []struct {
		name  string
		edits [][2]string
	}{
		{"gradual rollback", [][2]string{{tbGreen, tbGreen + "      rollback: gradual\n"}}},
		{"immediate rollback", [][2]string{{tbGreen, tbGreen + "      rollback: immediate\n"}}},
		{"slots without keys", [][2]string{{tbSlots, "        blue:\n        green: {}\n"},
			{"      vars: {slot: \"${slot}\", port: \"${slot.port}\"}\n", "      vars: {slot: \"${slot}\"}\n"},
			{`url: "${slot.url}/healthz"`, `url: "http://127.0.0.1/${live-slot}"`}}},
		{"slot values as host and port", [][2]string{{`url: "${slot.url}/healthz"`, `url: "http://${slot.port}.local:${slot.port}/${slot.port}"`}}},
		{"live-slot and a slot value starting a url", [][2]string{{`url: "${slot.url}/healthz"`, `url: "${slot.url}/healthz?live=${live-slot}&v=${version}"`}}},
		{"slot variables in every text", [][2]string{{tbCanary, tbCanary +
			"        on-rollback: {url: \"http://127.0.0.1/${slot}\", body: \"${slot.port} ${live-slot}\", headers: {X-Slot: \"${slot}\"}}\n"}}},
		{"no slos", [][2]string{{slos, ""}}},
		{"no slos and no metrics", [][2]string{{slos, ""}, {metrics, ""}}},
		// The slots may serve provisioning alone, with the switch made by hand.
		{"traffic without a traffic step", [][2]string{{slos, ""}, {shift, ""}}},
		{"error-ratio bounds", [][2]string{slo("      - {name: none, error-ratio: 0}\n      - {name: all, error-ratio: 1}\n")}},
		{"latency p99.9", [][2]string{slo("      - {name: p999, latency: {percentile: 99.9, max: 1s}}\n")}},
		{"query with max", [][2]string{slo("      - {name: fds, query: \"fds{slot='${slot}'}\", max: 0, window: 1s}\n")}},
		{"compare bounds", [][2]string{slo("      - {name: cmp, compare: {query: \"x{slot='${slot}'}\", min-samples: 3, alpha: 0.5}}\n")}},
		{"burn-rate", [][2]string{slo("      - {name: budget, burn-rate: {target: 0.5, long-window: 1s, threshold: 0.1}}\n")}},
		{"single canary weight", [][2]string{step("        canary: {steps: [{weight: 100, bake: 0s}], analysis-interval: 1s}\n")}},
		{"linear", [][2]string{step("        linear: {increment: 100, every: 1s, analysis-interval: 1s}\n")}},
		{"blue-green defaults", [][2]string{step("        blue-green: {}\n")}},
		{"blue-green", [][2]string{step("        blue-green: {rollback-window: 0s, analysis-interval: 30s}\n")}},
		{"all-at-once defaults", [][2]string{step("        all-at-once:\n")}},
		{"a traffic step in each environment", [][2]string{{tbCanary, tbCanary + "  - name: eu\n" + tbTraffic +
			"    steps:\n      - name: shift\n        linear: {increment: 50, every: 1m}\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := trafficBase
			for _, e := range tt.edits {
				if !strings.Contains(src, e[0]) {
					t.Fatalf("source does not contain %q", e[0])
				}
				src = strings.Replace(src, e[0], e[1], 1)
			}
			rb, err := parseSafely(t, "ok.yaml", []byte(src))
			if err != nil {
				t.Fatalf("valid runbook refused:\n%v\n%s", err, src)
			}
			assertJSONRoundTrip(t, rb)
		})
	}
}

// validTraffic is the full example of the traffic sections.
const validTraffic = "testdata/valid/canary.yaml"

func TestTrafficExampleIsValid(t *testing.T) {
	rb, err := Load(validTraffic)
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", validTraffic, err)
	}
	assertJSONRoundTrip(t, rb)
	e := rb.Environments[0]
	if tr := e.Traffic; tr == nil || tr.Provider != "edge" || len(tr.Slots) != 2 || tr.Slots["green"]["port"] != "18082" || tr.Rollback != "immediate" {
		t.Errorf("traffic = %+v", tr)
	}
	if e.Metrics == nil || e.Metrics.Provider != "prometheus" || len(e.SLOs) != 5 {
		t.Errorf("metrics = %+v, slos = %+v", e.Metrics, e.SLOs)
	}
	var objectives []string
	for _, s := range e.SLOs {
		switch {
		case s.ErrorRatio != nil:
			objectives = append(objectives, "error-ratio")
		case s.Latency != nil:
			objectives = append(objectives, "latency")
		case s.Query != "" && s.Max != nil:
			objectives = append(objectives, "query")
		case s.Compare != nil:
			objectives = append(objectives, "compare")
		case s.BurnRate != nil:
			objectives = append(objectives, "burn-rate")
		}
	}
	if got := strings.Join(objectives, ","); got != strings.Join(sloObjectives, ",") {
		t.Errorf("SLO objectives = %s, want one of each: %v", got, sloObjectives)
	}
	c := e.Steps[2].Canary
	if c == nil || len(c.Steps) != 4 || c.Steps[0].Weight != 5 || c.Steps[0].Bake.D() != 2*time.Minute || c.AnalysisInterval.D() != 10*time.Second {
		t.Errorf("canary = %+v", c)
	}
}

func TestEdgeMetricsRefuseCompareAndBurnRate(t *testing.T) {
	src := `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
environments:
  - name: production
    traffic: {provider: edge, slots: {blue: {}, green: {}}}
    metrics: {provider: edge, options: {url: "http://127.0.0.1:18091/metrics"}}
    slos:
      - name: errors
        error-ratio: 0.01
      - name: versus
        compare: {query: "latency_${slot}"}
      - name: budget
        burn-rate: {target: 0.999, long-window: 1h, threshold: 14.4}
    steps:
      - name: shift
        all-at-once: {}
`
	_, err := Parse("rb.yaml", []byte(src))
	if err == nil {
		t.Fatal("want compare and burn-rate refused with edge metrics")
	}
	for _, want := range []string{"rb.yaml:13:9: compare needs raw observations", "rb.yaml:15:9: burn-rate needs the long window's history"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("want exactly 2 problems, got %d:\n%v", n, err)
	}
}
