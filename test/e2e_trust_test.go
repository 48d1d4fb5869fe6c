package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/terraform"
	"github.com/runbookhq/runbook/internal/testenv/cosignkeys"
	"github.com/runbookhq/runbook/workflows"
)

const trustRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
  signature:
    public-key: cosign.pub
  vulnerabilities:
    report: scan-${version}.sarif
    max: {critical: 0, high: 1}
environments:
  - name: production
    steps:
      - name: deploy
        http-check:
          url: {{.X.URL}}/production/${version}
          interval: 250ms
`

// emptySARIF is a scan that found nothing; criticalSARIF found one critical.
const (
	emptySARIF    = `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"trivy","rules":[]}},"results":[]}]}`
	criticalSARIF = `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"trivy","rules":[{"id":"CVE-2026-0001","shortDescription":{"text":"openssl: heap overflow"},"properties":{"security-severity":"9.8"}}]}},
"results":[{"ruleId":"CVE-2026-0001","level":"error","message":{"text":"openssl 3.0.1 is vulnerable"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"usr/lib/libssl.so.3"}}}]}]}]}`
)

// TestTrustedArtifact: through the CLI and a real worker, a release ships
// only an artifact signed by the runbook's key (generated here) whose scan
// is within the limits. A signature by another key, no signature, or a
// critical finding stops the release before production changes, saying why.
func TestTrustedArtifact(t *testing.T) {
	t.Parallel()
	r := newRig(t, "trust")
	rec := newRecorder(t)
	r.startWorker()
	path, digest := r.writeRunbook("runbook.yaml", trustRunbook, map[string]any{"URL": rec.srv.URL})
	art := filepath.Join(r.dir, "artifact.bin")
	content, err := os.ReadFile(art)
	if err != nil {
		t.Fatal(err)
	}
	key, other := cosignkeys.New(t, cosignkeys.ECDSAP256), cosignkeys.New(t, cosignkeys.ECDSAP256)
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cosign.pub", key.PublicPEM(t))

	for _, tc := range []struct {
		version, sig, scan string
		want               string // "" = succeeds
	}{
		{"1.0.0", key.SignBlob(t, content), emptySARIF, ""},
		{"1.0.1", other.SignBlob(t, content), emptySARIF, "signature"},
		{"1.0.2", "", emptySARIF, "cosign sign-blob"},
		{"1.0.3", key.SignBlob(t, content), criticalSARIF, "1 critical (max 0): CVE-2026-0001"},
	} {
		_ = os.Remove(art + ".sig")
		if tc.sig != "" {
			write("artifact.bin.sig", tc.sig)
		}
		write("scan-"+tc.version+".sarif", tc.scan)
		// Build metadata, from CI: it travels into status and the audit log.
		r.mustCLI("deploy", path, "--version", tc.version, "--digest", digest, "--as", "alice",
			"--commit", "c0ffee"+tc.version, "--commit-time", "2026-11-25T10:00:00Z", "--team", "team-e2e")
		id := workflows.ReleaseID(r.service, tc.version)
		st := r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
		if tc.want == "" {
			assertSucceeded(t, st, "production")
			if d := step(t, env(t, st, "production"), workflows.BuiltinArtifact).Detail; !strings.Contains(d, "signed by key sha256:") || !strings.Contains(d, "vulnerabilities within limits") {
				t.Errorf("%s verify-artifact: %q", tc.version, d)
			}
			if out := r.mustCLI("status", id).stdout; !strings.Contains(out, "build: commit c0ffee1.0.0, committed 2026-11-25T10:00:00Z, by team-e2e") {
				t.Errorf("status does not show the build metadata:\n%s", out)
			}
			for _, e := range r.auditRecords(id) {
				if e["commit"] != "c0ffee1.0.0" || e["digest"] != digest {
					t.Errorf("audit entry %v lacks the commit and digest: %v", e["action"], e)
					break
				}
			}
			continue
		}
		if st.State == workflows.StateSucceeded || !strings.Contains(st.Reason, tc.want) {
			t.Errorf("%s: %s (%s); want it stopped because of %q", tc.version, st.State, st.Reason, tc.want)
		}
		if got := rec.requests("/production/" + tc.version); len(got) != 0 {
			t.Errorf("%s changed production although the artifact was not trusted", tc.version)
		}
	}
}

const riskRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
policy:
  risk:
    medium:
      - {name: release-manager, approvers: [rita]}
    high:
      - {name: cab, approvers: [carl, cora], min-approvals: 2}
environments:
  - name: production
    infra:
      module: module
      vars: {app_version: "${version}"}
    database:
      url: env:RISK_DB
      migrations: migrations
    steps:
      - name: provision
        provision: {}
      - name: schema
        migrate: {to: {{.X.To}}, phase: contract}
`

// riskModule replaces its one resource whenever the version changes.
const riskModule = `variable "app_version" { type = string }
resource "terraform_data" "app" { triggers_replace = var.app_version }
output "version" { value = var.app_version }
`

// TestRiskFromRealPlanAndMigrations: the risk level comes from a real
// OpenTofu plan and real pending migrations. The first release creates the
// resource and adds a table (production: medium, the release manager's
// gate); the next replaces the resource and drops a column (high: two of
// the CAB), and says why in status.
func TestRiskFromRealPlanAndMigrations(t *testing.T) {
	t.Parallel()
	r := newRig(t, "risk")
	tofu := tofuBin(t)
	for name, text := range map[string]string{
		"module/main.tf":                   riskModule,
		"migrations/1_notes.up.sql":        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, draft TEXT);",
		"migrations/1_notes.down.sql":      "DROP TABLE notes;",
		"migrations/2_drop_draft.up.sql":   "ALTER TABLE notes DROP COLUMN draft;",
		"migrations/2_drop_draft.down.sql": "ALTER TABLE notes ADD COLUMN draft TEXT;",
	} {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.startWorker(terraform.BinEnv+"="+tofu, "RISK_DB=sqlite://"+filepath.Join(r.dir, "risk.db"))

	path, digest := r.writeRunbook("v1.yaml", riskRunbook, map[string]any{"To": 1})
	id := r.deploy(path, digest, "1.0.0", "alice")
	st := r.waitFor(id, "release-manager gate waiting", gateWaiting("production", "release-manager"))
	risk := env(t, st, "production").Risk
	if risk == nil || risk.Level != "medium" || strings.Join(risk.Reasons, "; ") != "production environment" {
		t.Fatalf("first release risk %+v; want medium because of production only", risk)
	}
	r.mustCLI("approve", id, "--as", "rita")
	st = r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	assertSucceeded(t, st, "production")
	exportHistory(t, r.rc.Temporal, id, "", "release-risk-medium")
	exportHistory(t, r.rc.Temporal, env(t, st, "production").WorkflowID, env(t, st, "production").RunID, "environment-risk-medium")

	path, _ = r.writeRunbook("v2.yaml", riskRunbook, map[string]any{"To": 2})
	id = r.deploy(path, digest, "1.0.1", "alice")
	st = r.waitFor(id, "cab gate waiting", gateWaiting("production", "cab"))
	risk = env(t, st, "production").Risk
	reasons := strings.Join(risk.Reasons, "; ")
	if risk.Level != "high" || !strings.Contains(reasons, "the plan deletes or replaces infrastructure") ||
		!strings.Contains(reasons, "contract migration 2_drop_draft.up.sql") {
		t.Errorf("second release risk %s %q; want high for the replace and the contract migration", risk.Level, reasons)
	}
	if g := step(t, env(t, st, "production"), "cab").Gate; g == nil || g.MinApprovals != 2 {
		t.Errorf("cab gate %+v; want two approvals", g)
	}
	if out := r.mustCLI("status", id).stdout; !strings.Contains(out, "risk high: production environment") {
		t.Errorf("runbook status does not show the risk:\n%s", out)
	}
	eventually(t, "runbook list --risk high shows "+id+" only", func() bool {
		out := runCLIQuiet(r.env, "list", "--risk", "high", "--service", r.service)
		return out.code == 0 && strings.Contains(out.stdout, id) && !strings.Contains(out.stdout, workflows.ReleaseID(r.service, "1.0.0"))
	})
	r.mustCLI("abort", id, "--as", "alice", "--reason", "test done")
	r.waitFor(id, id+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
}
