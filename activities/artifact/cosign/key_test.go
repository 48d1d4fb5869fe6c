package cosign_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/activities/artifact/cosign"
	"github.com/runbookhq/runbook/internal/testenv/cosignkeys"
)

func TestParsePublicKey(t *testing.T) {
	for _, tc := range []struct {
		alg, want string
	}{
		{cosignkeys.ECDSAP256, cosign.AlgECDSAP256},
		{cosignkeys.ECDSAP384, cosign.AlgECDSAP384},
		{cosignkeys.Ed25519, cosign.AlgEd25519},
		{cosignkeys.RSA2048, cosign.AlgRSA},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			pubPEM := cosignkeys.New(t, tc.alg).PublicPEM(t)
			key, err := cosign.ParsePublicKey([]byte(pubPEM))
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode([]byte(pubPEM))
			sum := sha256.Sum256(block.Bytes)
			if key.Algorithm != tc.want || key.Fingerprint != "sha256:"+hex.EncodeToString(sum[:]) {
				t.Errorf("key = %s %s, want %s and the sha256 of the DER", key.Algorithm, key.Fingerprint, tc.want)
			}
		})
	}
}

func TestParsePublicKeyRefusals(t *testing.T) {
	k := cosignkeys.New(t, cosignkeys.ECDSAP256)
	for name, tc := range map[string]struct {
		pem, want string
	}{
		"empty":       {"", "no PEM block"},
		"not PEM":     {"c29tZSBiYXNlNjQ=", "no PEM block"},
		"private key": {k.PrivatePEM(t), "pass the public key"},
		"certificate": {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), `"CERTIFICATE"`},
		"garbage DER": {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("garbage")})), "parse PKIX"},
		"weak RSA":    {weakRSAPEM(t), "1024 bits"},
		"cosign.key":  {string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: []byte{1}})), "cosign.pub"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := cosign.ParsePublicKey([]byte(tc.pem))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParsePKCS1RSAPublicKey(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	text := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)})
	key, err := cosign.ParsePublicKey(text)
	if err != nil || key.Algorithm != cosign.AlgRSA {
		t.Fatalf("PKCS#1 key: %v, %v", key, err)
	}
}

// weakRSAPEM encodes a 1024-bit modulus; it need not be a real key, since
// only its size is inspected.
func weakRSAPEM(t *testing.T) string {
	n := new(big.Int).Lsh(big.NewInt(1), 1023)
	n.Add(n, big.NewInt(1))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestVerify(t *testing.T) {
	msg := []byte("checkout-1.4.2.tar.gz contents")
	sum := sha256.Sum256(msg)
	for _, alg := range []string{cosignkeys.ECDSAP256, cosignkeys.ECDSAP384, cosignkeys.Ed25519, cosignkeys.RSA2048} {
		t.Run(alg, func(t *testing.T) {
			signer, other := cosignkeys.New(t, alg), cosignkeys.New(t, alg)
			key, err := cosign.ParsePublicKey([]byte(signer.PublicPEM(t)))
			if err != nil {
				t.Fatal(err)
			}
			sig := signer.Sign(t, msg)
			if err := key.VerifyMessage(msg, sig); err != nil {
				t.Errorf("good signature over the message: %v", err)
			}
			if err := key.VerifyMessage([]byte("tampered"), sig); !errors.Is(err, cosign.ErrBadSignature) {
				t.Errorf("tampered message: %v", err)
			}
			if err := key.VerifyMessage(msg, other.Sign(t, msg)); !errors.Is(err, cosign.ErrBadSignature) {
				t.Errorf("other key's signature: %v", err)
			}
			err = key.VerifyDigest(sum[:], sig)
			switch {
			case key.SignsDigest() && err != nil:
				t.Errorf("good signature over the digest: %v", err)
			case !key.SignsDigest() && !errors.Is(err, cosign.ErrNeedsMessage):
				t.Errorf("Ed25519 with only a digest: %v, want ErrNeedsMessage", err)
			}
		})
	}
}

func TestDecodeSignature(t *testing.T) {
	raw := []byte{0x30, 0x45, 0x02, 0x21, 0xff}
	b64 := base64.StdEncoding.EncodeToString(raw)
	for name, tc := range map[string]struct {
		in      string
		want    []byte
		wantErr bool
	}{
		"base64":              {b64, raw, false},
		"base64 with newline": {b64 + "\n", raw, false},
		"raw bytes":           {string(raw), raw, false},
		"empty":               {" \n", nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := cosign.DecodeSignature([]byte(tc.in))
			if (err != nil) != tc.wantErr || string(got) != string(tc.want) {
				t.Errorf("DecodeSignature = %x, %v; want %x (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
