package sshsig

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// craft builds an armored signature from chosen fields, signing the data the fields
// describe with signer (so only the field under test is wrong).
type craft struct {
	magic     string
	version   uint32
	namespace string
	reserved  string
	hash      string
	algo      string // signature algorithm, "" for the signer's default
	trailing  []byte
}

func (c craft) build(t *testing.T, signer ssh.Signer, msg []byte) []byte {
	t.Helper()
	hash := c.hash
	if hash != hashSHA256 && hash != hashSHA512 {
		hash = hashSHA512
	}
	data := signedData(c.namespace, c.hash, hashMessage(hash, msg))
	var sig *ssh.Signature
	var err error
	if c.algo != "" {
		sig, err = signer.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, data, c.algo)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	b = append(b, c.magic...)
	b = binary.BigEndian.AppendUint32(b, c.version)
	b = appendString(b, signer.PublicKey().Marshal())
	b = appendString(b, []byte(c.namespace))
	b = appendString(b, []byte(c.reserved))
	b = appendString(b, []byte(c.hash))
	b = appendString(b, ssh.Marshal(sig))
	return armor(append(b, c.trailing...))
}

// TestVerifyRefuses checks each malformed or unacceptable signature is refused with an
// error saying what is wrong, and that the well-formed control passes.
func TestVerifyRefuses(t *testing.T) {
	ed := seededSigner(t, 1)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaSigner, err := ssh.NewSignerFromKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("approve")
	good := craft{magic: magic, version: 1, namespace: "ns", hash: hashSHA512}
	cases := []struct {
		name   string
		signer ssh.Signer
		mod    func(*craft)
		want   string
	}{
		{"control", ed, func(*craft) {}, ""},
		{"control sha256", ed, func(c *craft) { c.hash = hashSHA256 }, ""},
		{"control rsa-sha2-256", rsaSigner, func(c *craft) { c.algo = ssh.KeyAlgoRSASHA256 }, ""},
		{"wrong magic", ed, func(c *craft) { c.magic = "SSHSIH" }, "bad magic"},
		{"wrong version", ed, func(c *craft) { c.version = 2 }, "unsupported signature version 2"},
		{"other namespace", ed, func(c *craft) { c.namespace = "git" }, `namespace "git", not "ns"`},
		{"unknown hash", ed, func(c *craft) { c.hash = "sha1" }, `unsupported hash algorithm "sha1"`},
		{"ssh-rsa sha1", rsaSigner, func(c *craft) { c.algo = ssh.KeyAlgoRSA }, "ssh-rsa (SHA-1) signatures are refused"},
		{"trailing garbage", ed, func(c *craft) { c.trailing = []byte{0} }, "trailing garbage"},
		{"reserved", ed, func(c *craft) { c.reserved = "x" }, "reserved field is not empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cr := good
			c.mod(&cr)
			_, err := Verify(cr.build(t, c.signer, msg), "ns", msg)
			checkErr(t, err, c.want)
		})
	}
}

// TestVerifyArmor checks the armor is strict about what surrounds and fills it.
func TestVerifyArmor(t *testing.T) {
	signer := seededSigner(t, 1)
	msg := []byte("m")
	sig, err := Sign(signer, "ns", msg)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimSuffix(strings.TrimPrefix(string(sig), armorBegin+"\n"), armorEnd+"\n")
	cases := []struct{ name, armored, want string }{
		{"surrounding whitespace", "\n  " + string(sig) + "\n\n", ""},
		{"text after", string(sig) + "hello\n", "missing " + armorEnd},
		{"text before", "x" + string(sig), "missing " + armorBegin},
		{"no end", armorBegin + "\n" + body, "missing " + armorEnd},
		{"two signatures", string(sig) + string(sig), "malformed armor"},
		{"bad base64", armorBegin + "\n*" + body + armorEnd, "bad base64"},
		{"end inside begin", "-----BEGIN SSH SIGNATURE-----END SSH SIGNATURE-----", "malformed armor"},
		{"empty", "", "missing " + armorBegin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify([]byte(c.armored), "ns", msg)
			checkErr(t, err, c.want)
		})
	}
	if _, err := Verify(sig, "", msg); err == nil {
		t.Error("Verify accepted an empty namespace")
	}
	if _, err := Sign(signer, "", msg); err == nil {
		t.Error("Sign accepted an empty namespace")
	}
	if !bytes.HasSuffix(sig, []byte(armorEnd+"\n")) {
		t.Errorf("armor does not end with %q and a newline", armorEnd)
	}
	for _, line := range strings.Split(body, "\n") {
		if len(line) > armorWidth {
			t.Errorf("armor line of %d characters, ssh-keygen writes %d", len(line), armorWidth)
		}
	}
}

// plainSigner hides SignWithAlgorithm, like a signer that cannot choose the algorithm.
type plainSigner struct{ ssh.Signer }

// TestSignRefusesRSAWithoutAlgorithmChoice checks Sign never falls back to ssh-rsa.
func TestSignRefusesRSAWithoutAlgorithmChoice(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(plainSigner{s}, "ns", []byte("m")); err == nil || !strings.Contains(err.Error(), "rsa-sha2-512") {
		t.Fatalf("Sign with a plain RSA signer = %v, want a refusal naming rsa-sha2-512", err)
	}
}
