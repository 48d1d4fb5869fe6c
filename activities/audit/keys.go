package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Environment variables that make the worker sign (see worker.LoadConfig).
const (
	// EnvKeyFile names the worker's Ed25519 private key (PEM, PKCS #8, as
	// `openssl genpkey -algorithm ed25519` or `runbook audit keygen` write
	// it). When set, every entry the worker appends is signed and a signed
	// checkpoint is kept outside the log.
	EnvKeyFile = "RUNBOOK_AUDIT_KEY_FILE"
	// EnvCheckpoint names the checkpoint file, default <log>.checkpoint.
	EnvCheckpoint = "RUNBOOK_AUDIT_CHECKPOINT"
)

// Signing says how a store signs what it writes: with Signer's key, keeping
// the signed checkpoint in the file Checkpoint. The zero value signs nothing.
type Signing struct {
	Signer     *Signer
	Checkpoint string
}

// Signer signs entries and checkpoints with the worker's Ed25519 key. The
// private key never leaves it: it does not print or marshal.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its 32
// bytes. Entries and checkpoints carry it so that verification picks the
// right key when several are trusted (a rotation adds a key).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// LoadSigner reads an Ed25519 private key from a PEM file. Errors never
// quote the file's content.
func LoadSigner(file string) (*Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKeyFile, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: %s holds no PEM \"PRIVATE KEY\" block; create one with `runbook audit keygen`", EnvKeyFile, file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not a PKCS #8 private key", EnvKeyFile, file)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %s holds a %T, want an Ed25519 key", EnvKeyFile, file, k)
	}
	return &Signer{key: priv, id: KeyID(priv.Public().(ed25519.PublicKey))}, nil
}

// GenerateKey writes a new Ed25519 private key to privFile (mode 0600, which
// must not exist yet) and its public key to pubFile, both PEM, and returns
// the key ID.
func GenerateKey(privFile, pubFile string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(privFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if err := errors.Join(pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}), f.Sync(), f.Close()); err != nil {
		return "", err
	}
	return KeyID(pub), os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
}

// KeyID returns the ID of the signer's public key.
func (s *Signer) KeyID() string { return s.id }

// String names the key without showing it.
func (s *Signer) String() string { return "ed25519 key " + s.id }

// GoString keeps %#v from printing the private key.
func (s *Signer) GoString() string { return s.String() }

// sign signs msg, base64.
func (s *Signer) sign(msg []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, msg))
}

// Keyring holds the trusted public keys by key ID.
type Keyring map[string]ed25519.PublicKey

// LoadPublicKeys reads every PEM "PUBLIC KEY" block (Ed25519) in file: to
// rotate, append the new public key and keep the old ones, which still
// verify the entries they signed.
func LoadPublicKeys(file string) (Keyring, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	keys := make(Keyring)
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: a %q block; only public keys belong here", file, block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: a %T; audit keys are Ed25519", file, k)
		}
		keys[KeyID(pub)] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no PEM \"PUBLIC KEY\" block", file)
	}
	return keys, nil
}

// IDs lists the key IDs, sorted, for messages.
func (k Keyring) IDs() string {
	ids := make([]string, 0, len(k))
	for id := range k {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// check verifies sig over msg with the key named id.
func (k Keyring) check(id, sig string, msg []byte) error {
	pub, ok := k[id]
	if !ok {
		return fmt.Errorf("signed with key %s, which is not among the trusted public keys (%s)", id, k.IDs())
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(pub, msg, raw) {
		return fmt.Errorf("the signature does not verify with key %s", id)
	}
	return nil
}

// entryMessage is what an entry's signature covers: its hash, which covers
// every other field including the key ID, under a label so that a signature
// made for something else never passes as one.
func entryMessage(hash string) []byte { return []byte("runbook audit entry v1\n" + hash) }

// signEntry sets e's key ID, seals it and signs its hash. A nil signer only
// seals.
func signEntry(e Entry, s *Signer) (Entry, error) {
	if s != nil {
		e.KeyID = s.id
	}
	e.Sig = ""
	e, _, err := seal(e)
	if err != nil || s == nil {
		return e, err
	}
	e.Sig = s.sign(entryMessage(e.Hash))
	return e, nil
}
