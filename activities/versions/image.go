package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/oci"
)

// fromImage resolves a tag: its manifest digest pins the release, and the
// version is the image's version annotation or label, else the tag and a
// short digest (a moving tag such as "stable" is no version by itself).
// The release's artifact is the tag pinned by that digest, so it ships
// exactly the image read here even if the tag moves on.
func (a *Activities) fromImage(ctx context.Context, in ResolveInput) (ResolveResult, error) {
	ref, err := oci.ParseReference(in.From)
	if err != nil {
		return ResolveResult{}, invalid(err.Error())
	}
	if ref.Digest != "" {
		return ResolveResult{}, invalid(fmt.Sprintf("version source %s pins a digest, so it never changes; name a tag", in.From))
	}
	if !oci.IsReference(in.Artifact) {
		return ResolveResult{}, invalid(fmt.Sprintf("version source %s is an image but the runbook's artifact %s is not oci://; the release would ship something else", in.From, in.Artifact))
	}
	reg := a.registry()
	m, err := reg.Manifest(ctx, ref)
	if err != nil {
		return ResolveResult{}, registryError(ctx, err, "version source "+in.From)
	}
	version, err := a.imageVersion(ctx, reg, ref, m)
	if err != nil {
		return ResolveResult{}, err
	}
	pinned := ref
	pinned.Digest = m.Digest
	detail := fmt.Sprintf("%s is %s", ref.String(), m.Digest)
	if version == "" {
		version = ref.Identifier() + "-" + strings.TrimPrefix(m.Digest, "sha256:")[:12]
	} else {
		detail += ", " + VersionLabel + " " + version
	}
	if !versionRE.MatchString(version) {
		return ResolveResult{}, invalid(fmt.Sprintf("image %s has version %q, not a version runbook accepts (letters, digits and . + _ -, at most 64)", in.From, version))
	}
	return ResolveResult{Version: version, Digest: m.Digest, Artifact: pinned.String(), Detail: detail}, nil
}

// imageVersion is the version annotation of the manifest, else the label
// of the image's config; empty when neither says.
func (a *Activities) imageVersion(ctx context.Context, reg *oci.Client, ref oci.Reference, m oci.Manifest) (string, error) {
	var annotated struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(m.Body, &annotated) == nil && annotated.Annotations[VersionLabel] != "" {
		return annotated.Annotations[VersionLabel], nil
	}
	im, err := m.Image()
	if err != nil {
		return "", invalid(fmt.Sprintf("version source %s: %v; name a tag of one image (a platform's), not of an index", ref.String(), err))
	}
	blob, err := reg.Blob(ctx, ref, im.Config.Digest, maxConfigBytes)
	if err != nil {
		return "", registryError(ctx, err, "config of "+ref.String())
	}
	var cfg struct {
		Config struct {
			Labels map[string]string `json:"Labels"`
		} `json:"config"`
	}
	if err := json.Unmarshal(blob, &cfg); err != nil {
		return "", invalid(fmt.Sprintf("config of %s is not JSON: %v", ref.String(), err))
	}
	return cfg.Config.Labels[VersionLabel], nil
}

func (a *Activities) registry() *oci.Client {
	c := a.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	return &oci.Client{HTTP: c}
}

// registryError classifies a registry failure: a missing tag is final for
// this firing, server trouble is retried, cancellation passes through.
func registryError(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se *oci.StatusError
	switch {
	case errors.As(err, &se) && se.NotFound():
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v; push the tag first", what, se), ErrTypeNotFound, err)
	case errors.As(err, &se) && !se.Temporary():
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v; the registry refuses this request (runbook pulls anonymously)", what, se), ErrTypeInvalid, err)
	}
	return temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s: %v", what, err), ErrTypeRead, err)
}
