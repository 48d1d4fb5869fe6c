package sshsig

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// interopKeys are the key kinds checked against the real ssh-keygen.
var interopKeys = []struct{ name, typ, bits string }{
	{"ed25519", "ed25519", ""},
	{"ecdsa-p256", "ecdsa", "256"},
	{"rsa-3072", "rsa", "3072"},
}

// TestOurSignatureVerifiesWithSSHKeygen signs with Sign and checks with
// `ssh-keygen -Y verify`, including the cases it must refuse.
func TestOurSignatureVerifiesWithSSHKeygen(t *testing.T) {
	keygen := needTool(t, "ssh-keygen")
	for _, k := range interopKeys {
		t.Run(k.name, func(t *testing.T) {
			dir := t.TempDir()
			key := genKey(t, dir, "key", k.typ, k.bits, "")
			other := genKey(t, dir, "other", "ed25519", "", "")
			signer, err := SignerFromFile(key.path)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("approve release 42\n")
			sig, err := Sign(signer, "ns", msg)
			if err != nil {
				t.Fatal(err)
			}
			sigPath := writeFile(t, dir, "msg.sig", sig)
			allowed := writeFile(t, dir, "allowed", []byte("alice "+authorizedLine(key.pub)+"\n"))
			otherAllowed := writeFile(t, dir, "other-allowed", []byte("alice "+authorizedLine(other.pub)+"\n"))
			truncPath := writeFile(t, dir, "trunc.sig", sig[:len(sig)/2])

			verify := func(allowed, ns, sigPath string, msg []byte) error {
				out, err := run(t, msg, nil, keygen, "-Y", "verify", "-f", allowed, "-I", "alice", "-n", ns, "-s", sigPath)
				if err == nil && !bytes.Contains([]byte(out), []byte(`Good "`+ns+`" signature for alice`)) {
					t.Fatalf("ssh-keygen succeeded without the expected output: %s", out)
				}
				return err
			}
			if err := verify(allowed, "ns", sigPath, msg); err != nil {
				t.Fatalf("ssh-keygen refused our signature: %v", err)
			}
			refusals := map[string]error{
				"tampered message": verify(allowed, "ns", sigPath, []byte("approve release 43\n")),
				"other namespace":  verify(allowed, "other", sigPath, msg),
				"other key":        verify(otherAllowed, "ns", sigPath, msg),
				"truncated armor":  verify(allowed, "ns", truncPath, msg),
			}
			for what, err := range refusals {
				if err == nil {
					t.Errorf("ssh-keygen accepted our signature with %s", what)
				}
			}
			if k.typ == "rsa" {
				p := mustParse(t, sig)
				if p.sig.Format != "rsa-sha2-512" {
					t.Errorf("RSA signature format %q, want rsa-sha2-512", p.sig.Format)
				}
			}
		})
	}
}

// TestSSHKeygenSignatureVerifiesWithOurs signs with `ssh-keygen -Y sign` and checks with
// Verify, including the cases it must refuse.
func TestSSHKeygenSignatureVerifiesWithOurs(t *testing.T) {
	keygen := needTool(t, "ssh-keygen")
	for _, k := range interopKeys {
		for _, hash := range []string{"sha512", "sha256"} {
			t.Run(k.name+"/"+hash, func(t *testing.T) {
				dir := t.TempDir()
				key := genKey(t, dir, "key", k.typ, k.bits, "")
				msg := []byte("reject release 42: SLO burn\n")
				msgPath := writeFile(t, dir, "msg", msg)
				out, err := run(t, nil, nil, keygen, "-Y", "sign", "-f", key.path, "-n", "ns", "-O", "hashalg="+hash, msgPath)
				if err != nil {
					t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
				}
				sig, err := os.ReadFile(msgPath + ".sig")
				if err != nil {
					t.Fatal(err)
				}
				if got := mustParse(t, sig).hash; got != hash {
					t.Fatalf("ssh-keygen used hash %q, want %q", got, hash)
				}
				pub, err := Verify(sig, "ns", msg)
				if err != nil {
					t.Fatalf("Verify refused ssh-keygen's signature: %v", err)
				}
				if !bytes.Equal(pub.Marshal(), key.pub.Marshal()) {
					t.Fatalf("Verify returned key %s, want %s", Fingerprint(pub), Fingerprint(key.pub))
				}
				refusals := map[string]func() error{
					"tampered message": func() error { _, err := Verify(sig, "ns", []byte("reject release 43\n")); return err },
					"other namespace":  func() error { _, err := Verify(sig, "other", msg); return err },
					"truncated armor":  func() error { _, err := Verify(sig[:len(sig)/2], "ns", msg); return err },
					"truncated body": func() error {
						_, err := Verify(append(sig[:len(sig)-40:len(sig)-40], []byte("\n-----END SSH SIGNATURE-----\n")...), "ns", msg)
						return err
					},
				}
				for what, f := range refusals {
					if err := f(); err == nil {
						t.Errorf("Verify accepted ssh-keygen's signature with %s", what)
					}
				}
				otherAllowed, err := ParseAllowedSigners("alice "+authorizedLine(genKey(t, dir, "other", "ed25519", "", "").pub), "allowed")
				if err != nil {
					t.Fatal(err)
				}
				if err := otherAllowed.Authorized("alice", pub, "ns", testNow); err == nil {
					t.Error("a file listing another key authorized the signature")
				}
			})
		}
	}
}

// mustParse decodes an armored signature into its fields.
func mustParse(t *testing.T, armored []byte) *parsed {
	t.Helper()
	blob, err := dearmor(armored)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignerFromFileRefusesEncryptedKey checks the error points the user at ssh-agent.
func TestSignerFromFileRefusesEncryptedKey(t *testing.T) {
	dir := t.TempDir()
	key := genKey(t, dir, "enc", "ed25519", "", "correct horse")
	_, err := SignerFromFile(key.path)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("ssh-agent")) {
		t.Fatalf("SignerFromFile(encrypted) = %v, want an error naming ssh-agent", err)
	}
	if _, err := SignerFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SignerFromFile of a missing file succeeded")
	}
}
