// Package versions finds out, when a schedule fires, which version of a
// service to release and the digest that pins it: from an OCI tag (its
// manifest digest and the image's version label) or from a version file
// next to a local artifact. It knows nothing of workflows.
package versions

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact"
	"github.com/runbookhq/runbook/activities/artifact/oci"
	"github.com/runbookhq/runbook/runbooks"
)

// Error types, visible in the Temporal UI.
const (
	// ErrTypeInvalid is not retried: the reference or the version read is
	// not usable, and reading it again gives the same answer.
	ErrTypeInvalid = "VersionSourceInvalid"
	// ErrTypeNotFound is not retried: the file or tag is not there (the
	// next firing of the schedule looks again).
	ErrTypeNotFound = "VersionSourceNotFound"
	// ErrTypeRead is retried: a registry or file system hiccup.
	ErrTypeRead = "VersionSourceReadFailed"
)

// VersionLabel is the OCI annotation and image label that names an image's
// version.
const VersionLabel = "org.opencontainers.image.version"

// maxVersionFile bounds what is read from a version file: a version is at
// most 64 characters, the rest would be a wrong file.
const maxVersionFile = 4 << 10

// maxConfigBytes bounds an image's config blob.
const maxConfigBytes = 4 << 20

// versionRE is the version grammar releases accept (releases.Resolve).
var versionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)

// Activities resolves versions.
type Activities struct {
	// HTTP reaches registries; nil means http.DefaultClient.
	HTTP *http.Client
}

// ResolveInput says where the version comes from and what the artifact is.
type ResolveInput struct {
	// From is oci://HOST[:PORT]/REPO:TAG, or file:///PATH or an absolute
	// PATH of a file holding the version.
	From string `json:"from"`
	// Service and Artifact (the runbook's artifact reference, absolute, with
	// ${version} and ${service} still in it) give the artifact whose
	// digest a version file's release pins.
	Service  string `json:"service"`
	Artifact string `json:"artifact"`
}

// ResolveResult is the version to release now and what pins it.
type ResolveResult struct {
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Artifact is the artifact reference with the version filled in.
	Artifact string `json:"artifact"`
	// Detail says where the version was read, for the release's trigger.
	Detail string `json:"detail"`
}

// Resolve reads the version and digest as they are now.
func (a *Activities) Resolve(ctx context.Context, in ResolveInput) (ResolveResult, error) {
	if oci.IsReference(in.From) {
		return a.fromImage(ctx, in)
	}
	return a.fromFile(ctx, in)
}

// fromFile reads the version from a file, then digests the artifact the
// runbook names for that version.
func (a *Activities) fromFile(ctx context.Context, in ResolveInput) (ResolveResult, error) {
	path, err := FilePath(in.From)
	if err != nil {
		return ResolveResult{}, invalid(err.Error())
	}
	b, err := readSmall(path)
	if err != nil {
		return ResolveResult{}, err
	}
	version := strings.TrimSpace(string(b))
	if !versionRE.MatchString(version) {
		return ResolveResult{}, invalid(fmt.Sprintf("version file %s holds %q, not a version (letters, digits and . + _ -, at most 64)", path, version))
	}
	res := ResolveResult{Version: version, Artifact: expand(in, version), Detail: "version " + version + " read from " + path}
	res.Digest, err = a.artifactDigest(ctx, res.Artifact)
	return res, err
}

// FilePath is the local path of a file:// URL or an absolute path; the CLI
// uses it to check a --version-from before creating a schedule.
func FilePath(from string) (string, error) {
	if rest, ok := strings.CutPrefix(from, "file://"); ok {
		u, err := url.Parse(from)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return "", fmt.Errorf("version source %q: write file:///absolute/path (got host in %q)", from, rest)
		}
		from = u.Path
	}
	if !filepath.IsAbs(from) {
		return "", fmt.Errorf("version source %q must be oci://HOST/REPO:TAG, file:///absolute/path or an absolute path", from)
	}
	return filepath.Clean(from), nil
}

// readSmall reads a version file, telling missing files from transient errors.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("version file %s does not exist on this worker", path), ErrTypeNotFound, err)
	case err != nil:
		return nil, temporal.NewApplicationErrorWithCause(fmt.Sprintf("open version file %s: %v", path, err), ErrTypeRead, err)
	}
	defer func() { _ = f.Close() }()
	b := make([]byte, maxVersionFile+1)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return nil, invalid(fmt.Sprintf("version file %s is empty or unreadable: %v", path, err))
	}
	if n > maxVersionFile {
		return nil, invalid(fmt.Sprintf("version file %s is larger than %d bytes; it should hold one version", path, maxVersionFile))
	}
	return b[:n], nil
}

// artifactDigest digests the artifact of one version: a local file, or an
// image's manifest. Other references have no digest a schedule could take.
func (a *Activities) artifactDigest(ctx context.Context, ref string) (string, error) {
	if oci.IsReference(ref) {
		r, err := oci.ParseReference(ref)
		if err != nil {
			return "", invalid(err.Error())
		}
		m, err := a.registry().Manifest(ctx, r)
		if err != nil {
			return "", registryError(ctx, err, "artifact "+ref)
		}
		return m.Digest, nil
	}
	path, err := FilePath(ref)
	if err != nil {
		return "", invalid(fmt.Sprintf("artifact %s: a schedule with a version file takes the digest of a local artifact or an oci:// image, "+
			"not of a download; use --version-from oci://... or a local artifact", ref))
	}
	d, err := artifact.FileDigest(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("artifact %s does not exist on this worker; build it before the version file names it", path), ErrTypeNotFound, err)
	}
	if err != nil {
		return "", temporal.NewApplicationErrorWithCause(fmt.Sprintf("digest artifact %s: %v", path, err), ErrTypeRead, err)
	}
	return d, nil
}

// expand fills the version into the runbook's artifact reference.
func expand(in ResolveInput, version string) string {
	return runbooks.Expand(in.Artifact, map[string]string{"version": version, "service": in.Service})
}

// invalid is a final error: the same input fails the same way again.
func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeInvalid, nil)
}
