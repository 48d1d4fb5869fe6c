package cosign_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/artifact/cosign"
	"github.com/runbookhq/runbook/internal/testenv/cosignkeys"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestSignatureTag(t *testing.T) {
	if got, want := cosign.SignatureTag(digestA), "sha256-"+strings.Repeat("a", 64)+".sig"; got != want {
		t.Errorf("SignatureTag = %q, want %q", got, want)
	}
}

func TestVerifyImageSignature(t *testing.T) {
	signer := cosignkeys.New(t, cosignkeys.ECDSAP256)
	key, err := cosign.ParsePublicKey([]byte(signer.PublicPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	payload := cosignkeys.Payload(t, "registry.example/checkout", digestA)
	wrongType := []byte(strings.Replace(string(payload), "cosign container image signature", "atomic container signature", 1))
	for name, tc := range map[string]struct {
		payload, sig []byte
		digest, want string
	}{
		"good":                {payload, signer.Sign(t, payload), digestA, ""},
		"upper-case digest":   {payload, signer.Sign(t, payload), strings.ToUpper(digestA[:7]) + digestA[7:], ""},
		"other image":         {payload, signer.Sign(t, payload), digestB, "not " + digestB},
		"tampered payload":    {cosignkeys.Payload(t, "registry.example/checkout", digestB), signer.Sign(t, payload), digestB, "does not verify"},
		"signed wrong type":   {wrongType, signer.Sign(t, wrongType), digestA, "type"},
		"signed non-JSON":     {[]byte("hello"), signer.Sign(t, []byte("hello")), digestA, "not JSON"},
		"other key signed it": {payload, cosignkeys.New(t, cosignkeys.ECDSAP256).Sign(t, payload), digestA, "does not verify"},
	} {
		t.Run(name, func(t *testing.T) {
			err := cosign.VerifyImageSignature(key, tc.payload, tc.sig, tc.digest)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, cosign.ErrBadSignature) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadSignature mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLayerSignature(t *testing.T) {
	if _, err := cosign.LayerSignature(map[string]string{"org.opencontainers.image.title": "x"}); !errors.Is(err, cosign.ErrNoSignature) {
		t.Errorf("no annotation: %v", err)
	}
	sig, err := cosign.LayerSignature(map[string]string{cosign.SignatureAnnotation: base64.StdEncoding.EncodeToString([]byte("sig"))})
	if err != nil || string(sig) != "sig" {
		t.Errorf("annotation: %q, %v", sig, err)
	}
}
