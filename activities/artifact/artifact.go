// Package artifact checks that the artifact a release ships is the one that was
// built and approved: its digest (streamed files and URLs, or an OCI image's
// manifest), its cosign signature, and its vulnerability scan.
package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/oci"
)

// Error types, visible in the Temporal UI.
const (
	ErrTypeMismatch   = "ArtifactDigestMismatch" // not retried: the bytes will not change by waiting
	ErrTypeNotFound   = "ArtifactNotFound"       // not retried
	ErrTypeInvalid    = "ArtifactInvalid"        // not retried: bad digest or reference
	ErrTypeUnreadable = "ArtifactUnreadable"     // not retried: permission denied or a client error
	ErrTypeRead       = "ArtifactReadFailed"     // retried: server errors and broken connections

	ErrTypeSignatureMissing = "ArtifactSignatureMissing" // not retried: sign the artifact, then start again
	ErrTypeSignatureInvalid = "ArtifactSignatureInvalid" // not retried: another key, or other bytes, were signed
	ErrTypeVulnerable       = "ArtifactVulnerable"       // not retried: the report breaches the runbook's limits
)

const digestPrefix = "sha256:"

var digestRE = regexp.MustCompile(`^sha256:[0-9a-fA-F]{64}$`)

// Activities verifies artifacts.
type Activities struct {
	// Client fetches http(s) references; nil means http.DefaultClient. The
	// activity's StartToClose timeout bounds the download.
	Client *http.Client
}

// VerifyArtifactInput names the artifact and the digest it must have.
type VerifyArtifactInput struct {
	// Reference is an absolute path on the worker, a file:// URL, an
	// http(s):// URL, or oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX] for an
	// image, whose manifest digest is compared.
	Reference string
	// Digest is "sha256:" and 64 hex digits, as taken when the artifact was built.
	Digest string
}

// VerifyArtifactResult reports what was read.
type VerifyArtifactResult struct {
	Digest string
	// Size is the number of bytes hashed: the file, or the image manifest.
	Size int64
	// MediaType is the manifest's media type for oci:// references.
	MediaType string `json:",omitempty"`
}

// VerifyArtifact streams the artifact through SHA-256, heartbeating the bytes read
// at most once a second, and fails without retry unless its digest is in.Digest.
// Transient read failures are retried; cancellation stops the read. For an
// oci:// reference the manifest is resolved through the registry and its
// digest compared, which catches a tag moved since the digest was pinned.
func (a *Activities) VerifyArtifact(ctx context.Context, in VerifyArtifactInput) (VerifyArtifactResult, error) {
	want, err := parseDigest(in.Digest)
	if err != nil {
		return VerifyArtifactResult{}, err
	}
	if oci.IsReference(in.Reference) {
		return a.verifyImage(ctx, in.Reference, want)
	}
	src, name, err := a.open(ctx, artifactKind, in.Reference)
	if err != nil {
		return VerifyArtifactResult{}, err
	}
	defer func() { _ = src.Close() }()
	got, size, err := digest(ctx, src, activityHeartbeat(ctx))
	if err != nil {
		return VerifyArtifactResult{}, readError(ctx, name, err)
	}
	res := VerifyArtifactResult{Digest: got, Size: size}
	if got != want {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"artifact %s has digest %s, want %s: the artifact changed since the digest was taken; rebuild or pass the right --digest",
			name, got, want), ErrTypeMismatch, nil, res)
	}
	return res, nil
}

// FileDigest returns the "sha256:<hex>" digest of the file at path, for the CLI
// to take a digest the activity will later check.
func FileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	d, _, err := digest(context.Background(), f, nil)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return d, nil
}

// parseDigest checks the form of a digest and lower-cases its hex.
func parseDigest(d string) (string, error) {
	d = strings.TrimSpace(d)
	if !digestRE.MatchString(d) {
		return "", invalid(fmt.Sprintf("digest %q is not sha256:<64 hex digits>; take it with `sha256sum <file>` and prefix sha256:", d))
	}
	return strings.ToLower(d), nil
}

// digest hashes r to the end, never holding more than one buffer in memory.
func digest(ctx context.Context, r io.Reader, beat func(int64)) (string, int64, error) {
	h := sha256.New()
	p := newProgress(ctx, r, beat)
	n, err := io.CopyBuffer(h, p, make([]byte, 1<<20))
	if err != nil {
		return "", n, err
	}
	return digestPrefix + hex.EncodeToString(h.Sum(nil)), n, nil
}

// readError classifies a failure while streaming: cancellation is passed
// through, anything else is worth another attempt.
func readError(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return temporal.NewApplicationErrorWithCause(fmt.Sprintf("read artifact %s: %v", name, err), ErrTypeRead, err)
}

// invalid is the non-retryable error for input that can never verify.
func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalid, nil)
}
