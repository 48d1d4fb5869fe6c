package identity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Keyring signs as any of several people, each with their own key: the
// demo's cast, or a test's. A person signs with nobody else's key.
type Keyring map[string]ssh.Signer

// Sign signs c as the person named as.
func (k Keyring) Sign(ctx context.Context, c Claim, as string) (*Proof, error) {
	s, ok := k[as]
	if !ok {
		return nil, fmt.Errorf("no key for %q", as)
	}
	return SSHSigner{Principal: as, Key: s}.Sign(ctx, c, as)
}

// Describe says whose keys these are.
func (k Keyring) Describe() string { return fmt.Sprintf("the keys of %d people", len(k)) }

// LocalKeyring makes (or reuses) an Ed25519 key per person in dir and an
// allowed-signers file listing them (dir/allowed_signers), for a stack on
// one machine: `runbook demo` signs its decisions with them, so its
// production environment runs signed like a real one.
func LocalKeyring(dir string, people ...string) (Keyring, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	k := Keyring{}
	var lines []string
	for _, p := range people {
		if p == "" || strings.ContainsAny(p, " ,\t/") {
			return nil, "", fmt.Errorf("%q cannot name a key", p)
		}
		s, err := localKey(filepath.Join(dir, p))
		if err != nil {
			return nil, "", err
		}
		k[p] = s
		lines = append(lines, p+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))))
	}
	file := filepath.Join(dir, "allowed_signers")
	return k, file, os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// localKey reads the key at path, or makes it.
func localKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return ssh.ParsePrivateKey(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "runbook local key")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}
