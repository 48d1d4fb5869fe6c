package artifact

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/oci"
)

// verifyImage resolves an oci:// reference and compares the sha256 of the
// manifest bytes, which is the image's digest, with want.
func (a *Activities) verifyImage(ctx context.Context, reference, want string) (VerifyArtifactResult, error) {
	ref, err := parseImageRef(reference, want)
	if err != nil {
		return VerifyArtifactResult{}, err
	}
	m, err := a.registry().Manifest(ctx, ref)
	if err != nil {
		return VerifyArtifactResult{}, registryError(ctx, err, "image "+ref.String(), artifactKind,
			"check the repository and tag and that the image was pushed")
	}
	res := VerifyArtifactResult{Digest: m.Digest, Size: int64(len(m.Body)), MediaType: m.MediaType}
	if m.Digest != want {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"image %s resolves to %s, want %s: the tag moved since the digest was pinned (another image was pushed under it); "+
				"deploy the pinned image by digest (%s@%s) or review the new image and pin its digest",
			ref, m.Digest, want, oci.Scheme+ref.Name(), want), ErrTypeMismatch, nil, res)
	}
	return res, nil
}

// parseImageRef parses an oci:// reference and refuses one that pins a
// digest other than the release's: one of the two is a mistake.
func parseImageRef(reference, want string) (oci.Reference, error) {
	ref, err := oci.ParseReference(reference)
	if err != nil {
		return oci.Reference{}, invalid(err.Error() + "; write oci://HOST[:PORT]/REPO[:TAG] or oci://HOST[:PORT]/REPO@sha256:HEX")
	}
	if ref.Digest != "" && ref.Digest != want {
		return oci.Reference{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"image %s pins %s but the release pins %s; make the reference and the digest agree",
			ref, ref.Digest, want), ErrTypeMismatch, nil)
	}
	return ref, nil
}

// registry returns a registry client for one activity attempt, so that
// anonymous tokens are reused within it but never outlive it.
func (a *Activities) registry() *oci.Client {
	return &oci.Client{HTTP: a.client()}
}

// registryError classifies a registry failure: absent is final (as k's
// missing type), refusals and corrupt content are final, server trouble
// and broken connections are retried, cancellation passes through.
func registryError(ctx context.Context, err error, what string, k kind, missingHint string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se *oci.StatusError
	var de *oci.DigestError
	switch {
	case errors.As(err, &se) && se.NotFound():
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v; %s", what, se, missingHint), k.missingType, err)
	case errors.As(err, &se) && se.Temporary():
		return temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s: %v", what, se), ErrTypeRead, err)
	case errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: %v; the registry refuses anonymous pulls, and runbook pulls anonymously: make the repository public "+
				"or mirror the image to a registry the worker can read", what, se), ErrTypeUnreadable, err)
	case errors.As(err, &se):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v; the registry refuses this request", what, se), ErrTypeUnreadable, err)
	case errors.As(err, &de):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: %v; the registry or a proxy serves content other than what was asked for, report it to the registry's operators",
			what, de), ErrTypeMismatch, err)
	case errors.Is(err, oci.ErrTooLarge):
		return invalid(fmt.Sprintf("%s: %v; this is not a manifest or signature runbook can read", what, err))
	}
	return temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s: %v", what, unwrapURLError(err)), ErrTypeRead, err)
}
