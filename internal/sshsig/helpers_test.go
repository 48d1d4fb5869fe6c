package sshsig

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// needTool returns the path of an OpenSSH tool. Outside CI a missing tool skips the test;
// in CI (env CI set) it fails, because CI must run the interop tests.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "" { // CI must run these: only skip outside CI
		t.Skipf("%s not found (install openssh-client); CI unset, so skipping", name)
	}
	t.Fatalf("%s not found in CI: install openssh-client", name)
	return ""
}

// run runs a command with input on stdin and returns its combined output and error.
func run(t *testing.T, stdin []byte, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// keyFile is a key pair ssh-keygen wrote to disk.
type keyFile struct {
	path string // private key; the public key is path + ".pub"
	pub  ssh.PublicKey
}

// genKey makes a key with ssh-keygen in dir (typ "ed25519", "ecdsa" or "rsa", bits for
// the latter two), optionally encrypted with passphrase.
func genKey(t *testing.T, dir, name, typ, bits, passphrase string) keyFile {
	t.Helper()
	keygen := needTool(t, "ssh-keygen")
	path := filepath.Join(dir, name)
	args := []string{"-q", "-t", typ, "-N", passphrase, "-C", name, "-f", path}
	if bits != "" {
		args = append(args, "-b", bits)
	}
	if out, err := run(t, nil, nil, keygen, args...); err != nil {
		t.Fatalf("ssh-keygen %v: %v\n%s", args, err, out)
	}
	data, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return keyFile{path: path, pub: pub}
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// authorizedLine is the "type base64" form of key used in allowed-signers lines.
func authorizedLine(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// seededSigner is a deterministic ed25519 signer for tests that need no ssh-keygen.
func seededSigner(t testing.TB, seed byte) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustRead returns the content of path.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// runStdout runs a command and returns only its standard output (ssh-keygen writes
// diagnostics to standard error).
func runStdout(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	return string(out), err
}
