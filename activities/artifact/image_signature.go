package artifact

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/cosign"
	"github.com/runbookhq/runbook/activities/artifact/oci"
)

// maxPayloadBytes bounds a simple signing payload, a few hundred bytes of JSON.
const maxPayloadBytes = 1 << 20

// verifyImageSignature finds cosign's signature manifest for the pinned
// digest and accepts it if one of its layers is a payload naming that
// digest, signed by the key. It returns the signature manifest's reference.
func (a *Activities) verifyImageSignature(ctx context.Context, in VerifySignatureInput, want string, key *cosign.PublicKey) (string, error) {
	image, err := parseImageRef(in.Reference, want)
	if err != nil {
		return "", err
	}
	sigRef, err := imageSignatureRef(image, in.Signature, want)
	if err != nil {
		return "", err
	}
	client := a.registry()
	m, err := client.Manifest(ctx, sigRef)
	if err != nil {
		return sigRef.String(), registryError(ctx, err, "signature "+sigRef.String(), signatureKind, fmt.Sprintf(
			"the image is not signed: sign it with `cosign sign --key cosign.key %s@%s`", image.Name(), want))
	}
	pinned := sigRef
	pinned.Digest = m.Digest
	im, err := m.Image()
	if err != nil {
		return pinned.String(), signatureInvalid(fmt.Sprintf("signature %s: %v; it was not written by cosign sign", pinned, err))
	}
	return pinned.String(), checkSignatureLayers(ctx, client, pinned, im, want, key)
}

// imageSignatureRef is where cosign keeps the signatures of digest: the tag
// sha256-<hex>.sig in the image's repository, or in the repository named by
// signature; a signature reference with its own tag or digest is used as is.
func imageSignatureRef(image oci.Reference, signature, digest string) (oci.Reference, error) {
	tag := cosign.SignatureTag(digest)
	if signature == "" {
		return image.WithTag(tag), nil
	}
	if !oci.IsReference(signature) {
		return oci.Reference{}, invalid(fmt.Sprintf(
			"signature %q: an oci:// image's signatures are read from a registry; leave Signature empty or give an oci:// repository", signature))
	}
	ref, err := oci.ParseReference(signature)
	if err != nil {
		return oci.Reference{}, invalid("signature: " + err.Error())
	}
	if ref.Tag == "" && ref.Digest == "" {
		return ref.WithTag(tag), nil
	}
	return ref, nil
}

// checkSignatureLayers succeeds on the first layer whose payload names want
// and verifies with key. Layers that fail are collected for the message;
// registry trouble other than a missing or corrupt blob stops the check so
// that it is retried.
func checkSignatureLayers(ctx context.Context, client *oci.Client, sigRef oci.Reference, im oci.ImageManifest, want string, key *cosign.PublicKey) error {
	var problems []string
	for i, layer := range im.Layers {
		sig, err := cosign.LayerSignature(layer.Annotations)
		if errors.Is(err, cosign.ErrNoSignature) {
			continue
		}
		if err == nil {
			err = verifyLayer(ctx, client, sigRef, layer, sig, want, key)
		}
		if err == nil {
			return nil
		}
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) || ctx.Err() != nil {
			return err
		}
		problems = append(problems, fmt.Sprintf("layer %d %s: %v", i, layer.Digest, err))
	}
	if len(problems) == 0 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"signature %s has no layer with a %s annotation; sign the image with `cosign sign --key`",
			sigRef, cosign.SignatureAnnotation), ErrTypeSignatureMissing, nil)
	}
	return badSignature(fmt.Sprintf("no signature in %s verifies image %s", sigRef, want), key, strings.Join(problems, "; "))
}

// verifyLayer fetches one payload and checks its signature. A missing or
// corrupt blob is a bad signature; other registry trouble is returned as
// an application error.
func verifyLayer(ctx context.Context, client *oci.Client, sigRef oci.Reference, layer oci.Descriptor, sig []byte, want string, key *cosign.PublicKey) error {
	payload, err := client.Blob(ctx, sigRef, layer.Digest, maxPayloadBytes)
	var se *oci.StatusError
	var de *oci.DigestError
	switch {
	case err == nil:
		return cosign.VerifyImageSignature(key, payload, sig, want)
	case (errors.As(err, &se) && se.NotFound()) || errors.As(err, &de) || errors.Is(err, oci.ErrTooLarge):
		return fmt.Errorf("payload unreadable: %w", err)
	}
	return registryError(ctx, err, "signature payload "+layer.Digest+" of "+sigRef.String(), signatureKind, "")
}
