package artifact

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/runbookhq/runbook/activities/artifact/cosign"
	"github.com/runbookhq/runbook/internal/testenv/cosignkeys"
	"github.com/runbookhq/runbook/internal/testenv/ociregistry"
)

// sigLayer is one layer of a cosign signature image; an empty sig leaves
// the annotation out.
type sigLayer struct {
	payload []byte
	sig     string
}

// pushSignature writes a signature image as `cosign sign` does: an OCI
// manifest whose layers are simple signing payloads, each with its
// base64 signature in an annotation, under tag (or sha256-<hex>.sig).
func pushSignature(t *testing.T, repoRef, digest string, layers ...sigLayer) {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range layers {
		ann := map[string]string{}
		if l.sig != "" {
			ann[cosign.SignatureAnnotation] = l.sig
		}
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       static.NewLayer(l.payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
			Annotations: ann,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ociregistry.Push(t, repoRef+":"+cosign.SignatureTag(digest), img)
}

// signed is a layer carrying key's signature over payload.
func signed(t *testing.T, key *cosignkeys.Key, payload []byte) sigLayer {
	return sigLayer{payload: payload, sig: base64.StdEncoding.EncodeToString(key.Sign(t, payload))}
}

func TestVerifyImageSignature(t *testing.T) {
	host := ociregistry.NewRegistry(t)
	key, stranger := cosignkeys.New(t, cosignkeys.ECDSAP256), cosignkeys.New(t, cosignkeys.ECDSAP256)
	edKey := cosignkeys.New(t, cosignkeys.Ed25519)
	repo := host + "/team/checkout"
	push := func(tag string) string { return ociregistry.Push(t, repo+":"+tag, ociregistry.RandomImage(t)) }
	payload := func(d string) []byte { return cosignkeys.Payload(t, repo, d) }

	good, strangers, otherDigest, unsigned, noAnnotation, twoLayers, edSigned, elsewhere, corrupt :=
		push("good"), push("strangers"), push("other"), push("unsigned"), push("plain"), push("two"), push("ed"), push("elsewhere"), push("corrupt")
	pushSignature(t, repo, good, signed(t, key, payload(good)))
	pushSignature(t, repo, strangers, signed(t, stranger, payload(strangers)))
	pushSignature(t, repo, otherDigest, signed(t, key, payload(good))) // a valid signature, for another image
	pushSignature(t, repo, noAnnotation, sigLayer{payload: payload(noAnnotation)})
	pushSignature(t, repo, twoLayers, signed(t, stranger, payload(twoLayers)), signed(t, key, payload(twoLayers)))
	pushSignature(t, repo, edSigned, signed(t, edKey, payload(edSigned)))
	pushSignature(t, host+"/signatures/checkout", elsewhere, signed(t, key, payload(elsewhere)))
	pushSignature(t, repo, corrupt, sigLayer{payload: payload(corrupt), sig: "not base64 and not a signature"})

	for name, tc := range map[string]struct {
		ref, digest, sigRepo string
		key                  *cosignkeys.Key
		typ, msg             string
	}{
		"good by tag":             {repo + ":good", good, "", key, "", ""},
		"good by digest":          {repo + "@" + good, good, "", key, "", ""},
		"second layer verifies":   {repo + ":two", twoLayers, "", key, "", ""},
		"ed25519":                 {repo + ":ed", edSigned, "", edKey, "", ""},
		"signature repository":    {repo + ":elsewhere", elsewhere, "oci://" + host + "/signatures/checkout", key, "", ""},
		"signed by another key":   {repo + ":strangers", strangers, "", key, ErrTypeSignatureInvalid, "does not verify"},
		"payload names other":     {repo + ":other", otherDigest, "", key, ErrTypeSignatureInvalid, "signed payload is for " + good},
		"unsigned":                {repo + ":unsigned", unsigned, "", key, ErrTypeSignatureMissing, "cosign sign --key cosign.key " + repo + "@" + unsigned},
		"no signature annotation": {repo + ":plain", noAnnotation, "", key, ErrTypeSignatureMissing, cosign.SignatureAnnotation},
		"garbage signature":       {repo + ":corrupt", corrupt, "", key, ErrTypeSignatureInvalid, "does not verify"},
		"reference pins other":    {repo + "@" + good, strangers, "", key, ErrTypeMismatch, "agree"},
		"file signature for oci":  {repo + ":good", good, "/tmp/checkout.sig", key, ErrTypeInvalid, "leave Signature empty"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := verifySig(t, VerifySignatureInput{
				Reference: "oci://" + tc.ref, Digest: tc.digest, PublicKey: tc.key.PublicPEM(t), Signature: tc.sigRepo,
			})
			if tc.typ != "" {
				ae := appErr(t, err, tc.typ, true)
				if !strings.Contains(ae.Message(), tc.msg) {
					t.Errorf("message %q lacks %q", ae.Message(), tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantSig := ":" + cosign.SignatureTag(tc.digest) + "@sha256:"
			if res.KeyFingerprint != fingerprint(t, tc.key.PublicPEM(t)) || !strings.Contains(res.Signature, wantSig) {
				t.Errorf("result %+v, want the signature manifest %s pinned", res, wantSig)
			}
		})
	}
}
