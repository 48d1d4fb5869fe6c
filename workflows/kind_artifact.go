package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/runbooks"
)

// artifactActs is the typed nil receiver of the artifact activities.
var artifactActs *artifact.Activities

// artifactKind is the built-in verify-artifact step.
type artifactKind struct{}

// run checks the artifact against the release's digest, so every
// environment runs exactly the bytes that were approved; then, as the
// runbook asks, its signature and its vulnerability report. All of it runs
// before anything in the environment changes.
func (k *artifactKind) run(ctx workflow.Context, e *environment, i int) error {
	a := e.in.Artifact
	in := artifact.VerifyArtifactInput{Reference: a.Reference, Digest: a.Digest}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			MaximumAttempts: 5,
			NonRetryableErrorTypes: []string{artifact.ErrTypeMismatch, artifact.ErrTypeNotFound, artifact.ErrTypeInvalid,
				artifact.ErrTypeSignatureMissing, artifact.ErrTypeSignatureInvalid, artifact.ErrTypeVulnerable},
		},
		Summary: "verify " + in.Reference,
	})
	var res artifact.VerifyArtifactResult
	if err := workflow.ExecuteActivity(ctx, artifactActs.VerifyArtifact, in).Get(ctx, &res); err != nil {
		return err
	}
	details := []string{fmt.Sprintf("%s matches %s (%d bytes)", in.Reference, res.Digest, res.Size)}
	if a.Signature != nil {
		d, err := k.verifySignature(ctx, e, a)
		if err != nil {
			return err
		}
		details = append(details, d)
	}
	if a.Vulnerabilities != nil {
		d, err := k.checkVulnerabilities(ctx, e, a.Vulnerabilities)
		if err != nil {
			return err
		}
		details = append(details, d)
	}
	e.status.Steps[i].Detail = strings.Join(details, "; ")
	return nil
}

// verifySignature checks the artifact's keyed signature.
func (k *artifactKind) verifySignature(ctx workflow.Context, e *environment, a runbooks.Artifact) (string, error) {
	sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: workflow.GetActivityOptions(ctx).RetryPolicy, Summary: "verify the signature of " + a.Reference,
	})
	var res artifact.VerifySignatureResult
	err := workflow.ExecuteActivity(sctx, artifactActs.VerifySignature, artifact.VerifySignatureInput{
		Reference: a.Reference, Digest: a.Digest, PublicKey: a.Signature.PublicKey, Signature: a.Signature.Signature,
	}).Get(ctx, &res)
	if err != nil {
		return "", err
	}
	e.audit(ctx, auditRecord{action: "artifact.signature-verified", step: BuiltinArtifact, outcome: "verified",
		detail: fmt.Sprintf("%s signature by key %s (%s)", res.Algorithm, res.KeyFingerprint, res.Signature)})
	return fmt.Sprintf("signed by key %s (%s)", shortFingerprint(res.KeyFingerprint), res.Algorithm), nil
}

// checkVulnerabilities holds the artifact's scan report to the limits.
func (k *artifactKind) checkVulnerabilities(ctx workflow.Context, e *environment, p *runbooks.VulnerabilityPolicy) (string, error) {
	vctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         workflow.GetActivityOptions(ctx).RetryPolicy, Summary: "check the vulnerability report " + p.Report,
	})
	var res artifact.CheckVulnerabilitiesResult
	if err := workflow.ExecuteActivity(vctx, artifactActs.CheckVulnerabilities, artifact.CheckVulnerabilitiesInput{
		Report: p.Report, Format: p.Format, Max: p.Max,
	}).Get(ctx, &res); err != nil {
		return "", err
	}
	c := res.Counts
	return fmt.Sprintf("vulnerabilities within limits: %d critical, %d high, %d medium, %d low (%s)",
		c.Critical, c.High, c.Medium, c.Low, res.Format), nil
}

// shortFingerprint keeps a key fingerprint readable: "sha256:0123abcd…".
func shortFingerprint(fp string) string {
	if len(fp) > 19 {
		return fp[:19] + "…"
	}
	return fp
}
