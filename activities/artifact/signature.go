package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/artifact/cosign"
	"github.com/runbookhq/runbook/activities/artifact/oci"
)

const (
	// maxSignatureBytes bounds a signature file: real ones are under 1 KiB
	// (a 4096-bit RSA signature is 684 base64 characters).
	maxSignatureBytes = 64 << 10
	// maxEd25519Bytes bounds an artifact verified with an Ed25519 key, which
	// signs the whole message and so has to be held in memory.
	maxEd25519Bytes = 512 << 20
)

// VerifySignatureInput names a pinned artifact, the key that must have
// signed it and where its signature is. Verification matches
// `cosign verify-blob --key` for files and URLs and `cosign verify --key`
// for oci:// images.
type VerifySignatureInput struct {
	// Reference takes the forms VerifyArtifactInput.Reference takes.
	Reference string
	// Digest is the pinned "sha256:<hex>"; the signature must be over the
	// artifact with this digest.
	Digest string
	// PublicKey is the PEM text of the public key, as in cosign.pub.
	PublicKey string
	// Signature locates the signature of a file or URL artifact: a path, a
	// file:// or an http(s):// URL of the base64 file that
	// `cosign sign-blob --output-signature` writes; empty means the
	// Reference with ".sig" appended. For an oci:// image it is empty (the
	// signature is the tag sha256-<hex>.sig of the image's repository) or
	// an oci:// repository holding the signatures, as COSIGN_REPOSITORY.
	Signature string
}

// VerifySignatureResult records what vouched for the artifact, for the audit log.
type VerifySignatureResult struct {
	// KeyFingerprint is "sha256:<hex>" of the key's PKIX DER encoding.
	KeyFingerprint string
	// Algorithm is the key's scheme, e.g. "ecdsa-p256-sha256".
	Algorithm string
	// Signature is where the verified signature came from: a path, a URL,
	// or the signature manifest's oci:// reference pinned by its digest.
	Signature string
}

// VerifySignature checks that the artifact with the pinned digest carries a
// valid signature by the given key. ECDSA and RSA signatures are checked
// against the pinned digest without reading the artifact again; Ed25519
// signs the message, so the artifact is streamed and its digest rechecked.
// A missing signature, a bad one or an unusable key fails without retry.
func (a *Activities) VerifySignature(ctx context.Context, in VerifySignatureInput) (VerifySignatureResult, error) {
	want, err := parseDigest(in.Digest)
	if err != nil {
		return VerifySignatureResult{}, err
	}
	key, err := cosign.ParsePublicKey([]byte(in.PublicKey))
	if err != nil {
		return VerifySignatureResult{}, invalid("public key: " + err.Error())
	}
	res := VerifySignatureResult{KeyFingerprint: key.Fingerprint, Algorithm: key.Algorithm}
	if oci.IsReference(in.Reference) {
		res.Signature, err = a.verifyImageSignature(ctx, in, want, key)
	} else {
		res.Signature, err = a.verifyBlobSignature(ctx, in, want, key)
	}
	return res, err
}

// verifyBlobSignature checks a detached signature over a file or URL.
func (a *Activities) verifyBlobSignature(ctx context.Context, in VerifySignatureInput, want string, key *cosign.PublicKey) (string, error) {
	loc, err := blobSignatureLocation(in.Reference, in.Signature)
	if err != nil {
		return "", err
	}
	sig, name, err := a.readSignature(ctx, loc)
	if err != nil {
		return name, err
	}
	if key.SignsDigest() {
		sum, _ := hex.DecodeString(strings.TrimPrefix(want, digestPrefix))
		err = key.VerifyDigest(sum, sig)
	} else {
		var msg []byte
		if msg, err = a.readPinned(ctx, in.Reference, want); err != nil {
			return name, err
		}
		err = key.VerifyMessage(msg, sig)
	}
	if err != nil {
		return name, badSignature(fmt.Sprintf("signature %s does not verify artifact %s", name, want), key, err.Error())
	}
	return name, nil
}

// blobSignatureLocation is the explicit location, else "<reference>.sig"
// (on the URL's path, so a query string stays where it was).
func blobSignatureLocation(reference, signature string) (string, error) {
	if signature != "" {
		if oci.IsReference(signature) {
			return "", invalid(fmt.Sprintf("signature %s is in a registry but the artifact %s is not; give the path or URL of the .sig file", signature, reference))
		}
		return signature, nil
	}
	if filepath.IsAbs(reference) {
		return reference + ".sig", nil
	}
	u, err := url.Parse(reference)
	if err != nil || u.Path == "" {
		// open reports the bad reference in its own words.
		return reference + ".sig", nil
	}
	u.Path += ".sig"
	u.RawPath = ""
	return u.String(), nil
}

// readSignature reads and decodes a signature file.
func (a *Activities) readSignature(ctx context.Context, loc string) ([]byte, string, error) {
	src, name, err := a.open(ctx, signatureKind, loc)
	if err != nil {
		return nil, name, err
	}
	defer func() { _ = src.Close() }()
	b, err := io.ReadAll(io.LimitReader(src, maxSignatureBytes+1))
	if err != nil {
		return nil, name, readError(ctx, name, err)
	}
	if len(b) > maxSignatureBytes {
		return nil, name, signatureInvalid(fmt.Sprintf("signature %s is larger than %d bytes, so it is not a signature; check its location", name, maxSignatureBytes))
	}
	sig, err := cosign.DecodeSignature(b)
	if err != nil {
		return nil, name, signatureInvalid(fmt.Sprintf("signature %s: %v; write it with `cosign sign-blob --output-signature`", name, err))
	}
	return sig, name, nil
}

// readPinned reads a whole artifact for a key that signs messages, and
// checks it is still the pinned one: a signature over other bytes must not
// pass because the store changed between the two activities.
func (a *Activities) readPinned(ctx context.Context, reference, want string) ([]byte, error) {
	src, name, err := a.open(ctx, artifactKind, reference)
	if err != nil {
		return nil, err
	}
	defer func() { _ = src.Close() }()
	h := sha256.New()
	r := io.TeeReader(newProgress(ctx, io.LimitReader(src, maxEd25519Bytes+1), activityHeartbeat(ctx)), h)
	msg, err := io.ReadAll(r)
	if err != nil {
		return nil, readError(ctx, name, err)
	}
	if len(msg) > maxEd25519Bytes {
		return nil, invalid(fmt.Sprintf("artifact %s is larger than %d MiB, too large to verify with an Ed25519 key, which signs the whole artifact; sign it with an ECDSA or RSA key",
			name, maxEd25519Bytes>>20))
	}
	if got := digestPrefix + hex.EncodeToString(h.Sum(nil)); got != want {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"artifact %s has digest %s, want %s: it changed since the digest was pinned; rebuild or pin the right digest",
			name, got, want), ErrTypeMismatch, nil)
	}
	return msg, nil
}

// badSignature is the final error for a signature that does not verify.
func badSignature(what string, key *cosign.PublicKey, detail string) error {
	return signatureInvalid(fmt.Sprintf(
		"%s with key %s (%s): %s; it was made with another key or over other bytes: check the public key in the runbook, or sign the pinned artifact again",
		what, key.Fingerprint, key.Algorithm, detail))
}

func signatureInvalid(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeSignatureInvalid, nil)
}
