package cosign

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SignatureAnnotation is the layer annotation in which `cosign sign` stores
// the base64 signature of the layer's payload.
const SignatureAnnotation = "dev.cosignproject.cosign/signature"

// PayloadType is the critical.type of a cosign image signature payload.
const PayloadType = "cosign container image signature"

// Payload is cosign's "simple signing" document: what is signed for an image.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// SignatureTag is the tag under which cosign stores the signatures of the
// manifest with the given digest: "sha256-<hex>.sig".
func SignatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + ".sig"
}

// ParsePayload parses a simple signing payload and checks its type.
func ParsePayload(b []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Payload{}, fmt.Errorf("signed payload is not JSON: %w", err)
	}
	if p.Critical.Type != PayloadType {
		return Payload{}, fmt.Errorf("signed payload has type %q, want %q", p.Critical.Type, PayloadType)
	}
	return p, nil
}

// VerifyImageSignature checks a cosign image signature: sig must be key's
// signature over payload, and payload must name digest. The signature is
// checked first so that nothing an unsigned payload says is believed.
func VerifyImageSignature(key *PublicKey, payload, sig []byte, digest string) error {
	if err := key.VerifyMessage(payload, sig); err != nil {
		return err
	}
	p, err := ParsePayload(payload)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if got := p.Critical.Image.DockerManifestDigest; !strings.EqualFold(got, digest) {
		return fmt.Errorf("%w: signed payload is for %s, not %s", ErrBadSignature, got, digest)
	}
	return nil
}

// ErrNoSignature is returned by LayerSignature for a layer without one.
var ErrNoSignature = errors.New("layer carries no " + SignatureAnnotation + " annotation")

// LayerSignature decodes the signature annotation of a signature layer.
func LayerSignature(annotations map[string]string) ([]byte, error) {
	b64, ok := annotations[SignatureAnnotation]
	if !ok {
		return nil, ErrNoSignature
	}
	return DecodeSignature([]byte(b64))
}
