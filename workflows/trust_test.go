package workflows

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runbookhq/runbook/internal/testenv/cosignkeys"
	"github.com/runbookhq/runbook/runbooks"
)

// signedInput is an environment whose artifact must carry a signature by
// key; the test writes (or not) the signature next to the artifact.
func signedInput(h *harness, key *cosignkeys.Key) EnvironmentInput {
	in := envInput(envSpec("production", check("deploy", h.srv.url("/deploy"))))
	in.Artifact.Signature = &runbooks.ArtifactSignature{PublicKey: key.PublicPEM(h.t)}
	return in
}

// The signature is checked before anything changes: good passes, a
// signature by another key, over other bytes, or none at all stops the
// environment with the reason.
func TestArtifactSignature(t *testing.T) {
	trusted := cosignkeys.New(t, cosignkeys.ECDSAP256)
	other := cosignkeys.New(t, cosignkeys.ECDSAP256)
	for _, tc := range []struct {
		name string
		sig  func(h *harness) string // "" writes no signature
		want string                  // "" means the release succeeds
	}{
		{"good", func(h *harness) string { return trusted.SignBlob(t, []byte(testArtifactContent)) }, ""},
		{"other key", func(h *harness) string { return other.SignBlob(t, []byte(testArtifactContent)) }, "signature"},
		{"other bytes", func(h *harness) string { return trusted.SignBlob(t, []byte("tampered build")) }, "signature"},
		{"missing", func(*harness) string { return "" }, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if sig := tc.sig(h); sig != "" {
				require.NoError(t, os.WriteFile(h.artifactPath+".sig", []byte(sig), 0o600))
			}
			h.runEnvironment(signedInput(h, trusted))
			if tc.want == "" {
				var res EnvironmentResult
				require.NoError(t, h.env.GetWorkflowResult(&res))
				require.Contains(t, step(t, res.Status, BuiltinArtifact).Detail, "signed by key sha256:")
				require.Contains(t, h.auditActions(), "artifact.signature-verified verify-artifact verified")
				return
			}
			st, appErr := h.failedEnv(ErrTypeStepFailed)
			require.Contains(t, appErr.Error(), tc.want)
			require.Equal(t, StateFailed, step(t, st, BuiltinArtifact).State)
			require.Empty(t, h.srv.requests(), "the environment changed although the signature did not vouch for the artifact")
		})
	}
}

// A vulnerability report over the runbook's limits blocks the promotion,
// naming the findings; within the limits it passes.
func TestVulnerabilityThreshold(t *testing.T) {
	report, err := os.ReadFile(filepath.Join("..", "activities", "artifact", "vuln", "testdata", "trivy.sarif"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		max  map[string]int
		want string
	}{
		{"within", map[string]int{"critical": 5, "high": 10}, ""},
		{"too many critical", map[string]int{"critical": 0}, "critical (max 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			path := filepath.Join(t.TempDir(), "scan.sarif")
			require.NoError(t, os.WriteFile(path, report, 0o600))
			in := envInput(envSpec("production", check("deploy", h.srv.url("/deploy"))))
			in.Artifact.Vulnerabilities = &runbooks.VulnerabilityPolicy{Report: path, Max: tc.max}
			h.runEnvironment(in)
			if tc.want == "" {
				var res EnvironmentResult
				require.NoError(t, h.env.GetWorkflowResult(&res))
				require.Contains(t, step(t, res.Status, BuiltinArtifact).Detail, "vulnerabilities within limits")
				return
			}
			_, appErr := h.failedEnv(ErrTypeStepFailed)
			require.Contains(t, appErr.Error(), tc.want)
			require.Contains(t, appErr.Error(), "CVE-")
			require.Empty(t, h.srv.requests())
		})
	}
}
