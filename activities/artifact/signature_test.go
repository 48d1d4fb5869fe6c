package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/artifact/cosign"
	"github.com/runbookhq/runbook/internal/testenv/cosignkeys"
)

var algorithms = []string{cosignkeys.ECDSAP256, cosignkeys.ECDSAP384, cosignkeys.Ed25519, cosignkeys.RSA2048}

func verifySig(t *testing.T, in VerifySignatureInput) (VerifySignatureResult, error) {
	t.Helper()
	return (&Activities{}).VerifySignature(t.Context(), in)
}

func writeSig(t *testing.T, path, sig string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(sig), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fingerprint(t *testing.T, pubPEM string) string {
	block, _ := pem.Decode([]byte(pubPEM))
	sum := sha256.Sum256(block.Bytes)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestVerifyBlobSignature(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			key, stranger := cosignkeys.New(t, alg), cosignkeys.New(t, alg)
			pub := key.PublicPEM(t)
			path := writeFile(t, content)
			writeSig(t, path+".sig", key.SignBlob(t, []byte(content))+"\n")
			strangerSig := path + ".stranger.sig"
			writeSig(t, strangerSig, stranger.SignBlob(t, []byte(content)))
			empty := path + ".empty.sig"
			writeSig(t, empty, "\n")

			for name, tc := range map[string]struct {
				in  VerifySignatureInput
				typ string
				msg string
			}{
				"default .sig":        {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: pub}, "", ""},
				"file:// signature":   {VerifySignatureInput{Reference: "file://" + path, Digest: known(content), PublicKey: pub, Signature: "file://" + path + ".sig"}, "", ""},
				"another key signed":  {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: pub, Signature: strangerSig}, ErrTypeSignatureInvalid, "another key or over other bytes"},
				"checked against key": {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: stranger.PublicPEM(t)}, ErrTypeSignatureInvalid, fingerprint(t, stranger.PublicPEM(t))},
				"signature missing":   {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: pub, Signature: path + ".nope"}, ErrTypeSignatureMissing, "cosign sign-blob"},
				"signature empty":     {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: pub, Signature: empty}, ErrTypeSignatureInvalid, "empty"},
				"key is not PEM":      {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: "not a key"}, ErrTypeInvalid, "cosign.pub"},
				"private key given":   {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: key.PrivatePEM(t)}, ErrTypeInvalid, "pass the public key"},
				"bad digest":          {VerifySignatureInput{Reference: path, Digest: "sha256:abc", PublicKey: pub}, ErrTypeInvalid, "64 hex"},
				"oci signature":       {VerifySignatureInput{Reference: path, Digest: known(content), PublicKey: pub, Signature: "oci://127.0.0.1/sigs"}, ErrTypeInvalid, "give the path or URL"},
			} {
				t.Run(name, func(t *testing.T) {
					res, err := verifySig(t, tc.in)
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
					if res.KeyFingerprint != fingerprint(t, pub) || !strings.HasPrefix(res.Algorithm, strings.Split(alg, "-")[0]) ||
						!strings.HasSuffix(res.Signature, path+".sig") {
						t.Errorf("result %+v", res)
					}
				})
			}
		})
	}
}

// A signature over other bytes than the pinned artifact must fail, whether
// the key signs the digest (checked against the pinned digest) or the
// message (the artifact is read again and must still be the pinned one).
func TestVerifyBlobSignatureOtherBytes(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			key := cosignkeys.New(t, alg)
			pub := key.PublicPEM(t)

			// Signed the original, but the release pins the tampered bytes.
			tampered := writeFile(t, content+"backdoor")
			writeSig(t, tampered+".sig", key.SignBlob(t, []byte(content)))
			_, err := verifySig(t, VerifySignatureInput{Reference: tampered, Digest: known(content + "backdoor"), PublicKey: pub})
			appErr(t, err, ErrTypeSignatureInvalid, true)

			// Pinned and signed the original, but the store now holds other bytes.
			swapped := writeFile(t, content+"swapped")
			writeSig(t, swapped+".sig", key.SignBlob(t, []byte(content)))
			_, err = verifySig(t, VerifySignatureInput{Reference: swapped, Digest: known(content), PublicKey: pub})
			if key := mustKey(t, pub); key.SignsDigest() {
				if err != nil {
					t.Errorf("digest-signing key verifies the pinned digest without reading the artifact: %v", err)
				}
			} else {
				appErr(t, err, ErrTypeMismatch, true)
			}
		})
	}
}

func mustKey(t *testing.T, pub string) *cosign.PublicKey {
	t.Helper()
	k, err := cosign.ParsePublicKey([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyBlobSignatureHTTP(t *testing.T) {
	key := cosignkeys.New(t, cosignkeys.Ed25519)
	sig := key.SignBlob(t, []byte(content))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/releases/checkout.tar.gz":
			_, _ = w.Write([]byte(content))
		case "/releases/checkout.tar.gz.sig":
			_, _ = w.Write([]byte(sig))
		case "/flaky.sig":
			w.WriteHeader(http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	in := VerifySignatureInput{Reference: srv.URL + "/releases/checkout.tar.gz?build=7", Digest: known(content), PublicKey: key.PublicPEM(t)}

	res, err := verifySig(t, in)
	if err != nil || res.Signature != srv.URL+"/releases/checkout.tar.gz.sig?build=7" {
		t.Fatalf("default signature URL: %+v, %v", res, err)
	}
	in.Signature = srv.URL + "/missing.sig"
	_, err = verifySig(t, in)
	appErr(t, err, ErrTypeSignatureMissing, true)
	in.Signature = srv.URL + "/flaky.sig"
	_, err = verifySig(t, in)
	appErr(t, err, ErrTypeRead, false)
}
