package runbooks

import (
	"strings"
	"testing"
)

// edit returns validBase with old replaced by new, failing if old is absent
// (so a change to validBase cannot silently turn a case into a no-op).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(validBase, old) {
		t.Fatalf("validBase does not contain %q", old)
	}
	return strings.Replace(validBase, old, new, 1)
}

const checkURL = "          url: http://127.0.0.1:8080/healthz\n"

func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name      string
		src       func(t *testing.T) string
		where     string
		fragments []string
	}{
		{"api-version missing", func(t *testing.T) string { return edit(t, "api-version: runbook/v1\n", "") },
			"v.yaml:1:1", []string{"api-version is missing; add api-version: runbook/v1"}},
		{"environments missing", func(t *testing.T) string { return validBase[:strings.Index(validBase, "environments:")] },
			"v.yaml:1:1", []string{"environments is missing"}},
		{"environments empty", func(t *testing.T) string {
			return validBase[:strings.Index(validBase, "environments:")] + "environments: []\n"
		}, "v.yaml:6:15", []string{"environments is empty"}},
		{"steps empty", func(t *testing.T) string {
			return validBase[:strings.Index(validBase, "    steps:")] + "    steps: []\n"
		}, "v.yaml:8:12", []string{"steps is empty"}},
		{"environment name missing", func(t *testing.T) string { return edit(t, "  - name: staging\n    steps:", "  - steps:") },
			"v.yaml:7:5", []string{"environment name is missing"}},
		{"step name missing", func(t *testing.T) string {
			return edit(t, "      - name: smoke\n        http-check:", "      - http-check:")
		},
			"v.yaml:9:9", []string{"step name is missing"}},
		{"service too long", func(t *testing.T) string { return edit(t, "service: checkout", "service: a"+strings.Repeat("b", 63)) },
			"v.yaml:2:10", []string{"is not a valid name", "at most 63 characters"}},
		{"owner blank", func(t *testing.T) string { return edit(t, "owner: team-payments", `owner: "  "`) },
			"v.yaml:3:8", []string{"owner is empty"}},
		{"file url with host", func(t *testing.T) string { return edit(t, "reference: ./app", "reference: file://server/app") },
			"v.yaml:5:14", []string{"not a usable file:// URL"}},
		{"http artifact without host", func(t *testing.T) string { return edit(t, "reference: ./app", "reference: https:///app") },
			"v.yaml:5:14", []string{`artifact.reference "https:///app" has no host`}},
		{"digest uppercase", func(t *testing.T) string {
			return edit(t, "reference: ./app", "reference: ./app\n  digest: sha256:"+strings.Repeat("A", 64))
		}, "v.yaml:6:11", []string{"sha256: followed by 64 lowercase hex digits"}},
		{"url missing", func(t *testing.T) string { return edit(t, checkURL, "          method: GET\n") },
			"v.yaml:11:11", []string{"http-check url is missing"}},
		{"url not a url", func(t *testing.T) string { return edit(t, checkURL, "          url: \"http://a b/\"\n") },
			"v.yaml:11:16", []string{"is not a valid URL"}},
		{"body with GET", func(t *testing.T) string { return edit(t, checkURL, checkURL+"          body: x\n") },
			"v.yaml:12:17", []string{"a body is not sent with GET"}},
		{"expect-status zero", func(t *testing.T) string { return edit(t, checkURL, checkURL+"          expect-status: 0\n") },
			"v.yaml:12:26", []string{"expect-status 0 is not an HTTP status"}},
		{"header line break", func(t *testing.T) string {
			return edit(t, checkURL, checkURL+"          headers: {X-A: \"a\\nb\"}\n")
		}, "v.yaml:12:26", []string{`header "X-A" must be on one line`}},
		{"gate name missing", func(t *testing.T) string {
			return edit(t, "    steps:", "    approvals:\n      - approvers: [alice]\n    steps:")
		}, "v.yaml:9:9", []string{"approval gate name is missing"}},
		{"two gates one name", func(t *testing.T) string {
			return edit(t, "    steps:", "    approvals:\n      - name: qa\n      - name: qa\n    steps:")
		}, "v.yaml:10:15", []string{`approval gate name "qa" is already used at line 9`}},
		{"reserved step name", func(t *testing.T) string {
			return edit(t, "      - name: smoke\n", "      - name: verify-artifact\n")
		}, "v.yaml:9:15", []string{`step name "verify-artifact" is reserved for the built-in step`}},
		{"empty approver", func(t *testing.T) string {
			return edit(t, "    steps:", "    approvals:\n      - name: qa\n        approvers: [alice, \"\"]\n    steps:")
		}, "v.yaml:10:28", []string{"approver is empty"}},
		{"timezone Local", func(t *testing.T) string {
			return edit(t, "    steps:", "    release-window: {timezone: Local}\n    steps:")
		}, "v.yaml:8:32", []string{"timezone Local depends on the machine"}},
		{"start 24:00", func(t *testing.T) string {
			return edit(t, "    steps:", "    release-window: {start: \"24:00\"}\n    steps:")
		}, "v.yaml:8:29", []string{`start "24:00" is not a time of day`}},
		{"end 24:30", func(t *testing.T) string {
			return edit(t, "    steps:", "    release-window: {end: \"24:30\"}\n    steps:")
		}, "v.yaml:8:27", []string{`end "24:30" is not a time of day`}},
		{"days empty", func(t *testing.T) string {
			return edit(t, "    steps:", "    release-window: {days: []}\n    steps:")
		}, "v.yaml:8:28", []string{"days is empty"}},
		{"blackout from missing", func(t *testing.T) string {
			return edit(t, "    steps:", "    release-window:\n      blackouts: [{to: 2025-01-01}]\n    steps:")
		}, "v.yaml:9:19", []string{"blackout from is missing"}},
		{"rollback on a gate", func(t *testing.T) string {
			return edit(t, "      - name: smoke\n", "      - name: ok\n        approval: {}\n        on-rollback: {url: \"http://x/undo\"}\n      - name: smoke\n")
		}, "v.yaml:11:9", []string{"on-rollback never runs on an approval step"}},
		{"rollback without url", func(t *testing.T) string {
			return edit(t, checkURL, checkURL+"        on-rollback: {method: POST}\n")
		}, "v.yaml:12:22", []string{"on-rollback url is missing"}},
		{"rollback method", func(t *testing.T) string {
			return edit(t, checkURL, checkURL+"        on-rollback: {url: \"http://x/undo\", method: PATCH}\n")
		}, "v.yaml:12:53", []string{`method "PATCH" is not supported for on-rollback; use POST, PUT, DELETE or GET`}},
		{"rollback body with GET", func(t *testing.T) string {
			return edit(t, checkURL, checkURL+"        on-rollback: {url: \"http://x/undo\", method: GET, body: x}\n")
		}, "v.yaml:12:64", []string{"a body is not sent with GET"}},
		{"variable in owner", func(t *testing.T) string { return edit(t, "owner: team-payments", "owner: ${team}") },
			"v.yaml:3:8", []string{"unknown variable ${team}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, "v.yaml", tt.src(t))
			wantProblemContaining(t, ps, tt.where, tt.fragments...)
		})
	}
}

func TestValidVariants(t *testing.T) {
	tests := []struct{ name, old, new string }{
		{"file url", "reference: ./app", "reference: file:///opt/app-${version}"},
		{"https url", "reference: ./app", "reference: https://artifacts.example.com/${service}/${version}.tar.gz"},
		{"windows path", "reference: ./app", `reference: C:\builds\app.exe`},
		{"digest", "reference: ./app", "reference: ./app\n  digest: sha256:" + strings.Repeat("ab", 32)},
		{"url variables", checkURL, "          url: https://${service}.${environment}.example.com/v/${version}\n"},
		{"null expect-status", checkURL, checkURL + "          expect-status:\n"},
		{"post with body", checkURL, checkURL + "          method: POST\n          body: '{\"v\": \"${version}\"}'\n"},
		{"window to midnight", "    steps:", "    release-window: {timezone: America/New_York, days: [sat, sun], start: \"22:00\", end: \"24:00\"}\n    steps:"},
		{"approval defaults", "      - name: smoke\n", "      - name: ok\n        approval:\n      - name: smoke\n"},
		{"gate min equals approvers", "    steps:", "    approvals: [{name: qa, approvers: [a, b], min-approvals: 2}]\n    steps:"},
		{"rollback hook", checkURL, checkURL + "        on-rollback:\n          url: http://127.0.0.1:8080/undo?v=${version}\n          body: x\n"},
		{"same step name in two environments", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := validBase + "  - name: production\n    steps:\n      - name: smoke\n        approval: {}\n"
			if tt.old != "" {
				src = strings.Replace(src, tt.old, tt.new, 1)
			}
			rb, err := parseSafely(t, "ok.yaml", []byte(src))
			if err != nil {
				t.Fatalf("valid runbook refused:\n%v\n%s", err, src)
			}
			assertJSONRoundTrip(t, rb)
		})
	}
}
