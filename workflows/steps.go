package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/httpcheck"
	"github.com/runbookhq/runbook/runbooks"
)

// Names of the built-in steps every environment runs before its own.
const (
	BuiltinWindow   = "release-window"
	BuiltinArtifact = "verify-artifact"
)

// Defaults of the http-check step.
const (
	defaultHTTPTimeout  = 10 * time.Second
	defaultHTTPInterval = 2 * time.Second
	defaultHTTPDeadline = 2 * time.Minute
)

// Typed nil receivers: workflows call activities through method values so a
// renamed activity is a compile error, not a stuck release.
var (
	httpActs     *httpcheck.Activities
	artifactActs *artifact.Activities
)

// vars are the ${...} variables a step may use.
func (e *environment) vars() map[string]string {
	v := map[string]string{
		runbooks.VarVersion: e.in.Version, runbooks.VarService: e.in.Service,
		runbooks.VarEnvironment: e.in.Env.Name, runbooks.VarArtifact: e.in.Artifact.Reference,
	}
	for _, name := range sortedKeys(e.outputs) {
		v[runbooks.VarOutputsPrefix+name] = e.outputs[name]
	}
	if e.slots != nil {
		v[runbooks.VarSlot], v[runbooks.VarLiveSlot] = e.slots.target, e.slots.live
		slot := e.in.Env.Traffic.Slots[e.slots.target]
		for _, k := range sortedKeys(slot) {
			v[runbooks.VarSlotPrefix+k] = slot[k]
		}
	}
	return v
}

// expand replaces the variables in s. A ${outputs.NAME} left over names an
// output the module did not produce, or a sensitive one: that is an error
// of the runbook, not something to retry.
func (e *environment) expand(s string) (string, error) {
	out := runbooks.Expand(s, e.vars())
	if i := strings.Index(out, "${"+runbooks.VarOutputsPrefix); i >= 0 {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: the provision step produced no usable output for %s (missing, or sensitive and therefore never exposed)",
			s, out[i:strings.IndexByte(out[i:], '}')+i+1]), ErrTypeInvalid, nil)
	}
	return out, nil
}

// httpCheckKind is the http-check step kind.
type httpCheckKind struct{}

// httpCheck runs an http-check step: one activity whose Temporal retry policy
// repeats the request every interval until it passes or the deadline is hit.
// Retries add no history events, so a long check keeps history small.
func (k *httpCheckKind) run(ctx workflow.Context, e *environment, i int) error {
	c := e.plan[i].step.HTTPCheck
	texts, err := e.expandAll(c.URL, c.Body, c.ExpectBody)
	if err != nil {
		return err
	}
	in := httpcheck.HTTPCheckInput{
		URL:            texts[0],
		Method:         c.Method,
		Headers:        c.Headers,
		Body:           texts[1],
		ExpectStatus:   c.ExpectStatus,
		ExpectBody:     texts[2],
		Timeout:        c.Timeout.Or(defaultHTTPTimeout),
		IdempotencyKey: e.idempotencyKey(e.plan[i].step.Name),
	}
	interval := c.Interval.Or(defaultHTTPInterval)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    in.Timeout + 5*time.Second,
		ScheduleToCloseTimeout: c.Deadline.Or(defaultHTTPDeadline),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        interval,
			BackoffCoefficient:     1,
			MaximumInterval:        interval,
			NonRetryableErrorTypes: []string{httpcheck.ErrTypeInvalid},
		},
		// A request on its way when the release is aborted may still take
		// effect: the step's on-rollback hook must come after it, not
		// before (the attempt is bounded by its timeout).
		WaitForCancellation: e.truthful,
		Summary:             fmt.Sprintf("%s: %s %s", e.plan[i].step.Name, methodOr(in.Method, "GET"), in.URL),
	})
	var res httpcheck.HTTPCheckResult
	if err := workflow.ExecuteActivity(ctx, httpActs.HTTPCheck, in).Get(ctx, &res); err != nil {
		return err
	}
	e.status.Steps[i].Detail = fmt.Sprintf("%s %s answered %d in %d ms (attempt %d)",
		methodOr(in.Method, "GET"), in.URL, res.Status, res.DurationMS, res.Attempt)
	return nil
}

// artifactKind is the built-in verify-artifact step.
type artifactKind struct{}

// verifyArtifact checks the artifact against the release's digest, so every
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

// windowKind is the built-in release-window step.
type windowKind struct{}

// awaitWindow is the built-in first step of an environment with a release
// window: it waits, on a durable timer, until the window is open.
func (k *windowKind) run(ctx workflow.Context, e *environment, i int) error {
	waited, err := e.holdForWindow(ctx, i)
	if err != nil {
		return err
	}
	e.status.Steps[i].Detail = "window open"
	if waited {
		e.status.Steps[i].Detail = "window opened at " + workflow.Now(ctx).UTC().Format(time.RFC3339)
	}
	return nil
}

// expandAll expands each of texts, stopping at the first error.
func (e *environment) expandAll(texts ...string) ([]string, error) {
	out := make([]string, len(texts))
	for i, t := range texts {
		v, err := e.expand(t)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// idempotencyKey is unique per environment run and step, and the same on
// every retry, so a receiver can apply a step's effect exactly once.
func (e *environment) idempotencyKey(step string) string {
	return e.status.WorkflowID + "/" + e.status.RunID + "/" + step
}

func methodOr(m, def string) string {
	if m == "" {
		return def
	}
	return m
}
