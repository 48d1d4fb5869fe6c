package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// EnvKeys names the key file: a reference, env:NAME or file:PATH, never the
// keys themselves, so the setting can sit in a unit or compose file.
const EnvKeys = "RUNBOOK_CODEC_KEYS"

// KeySize is the only key length accepted: AES-256.
const KeySize = 32

// keyIDRe is what a key ID may be: it travels in every payload's metadata
// and in error messages, so it stays short and printable.
var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// key is one named AES-256-GCM key.
type key struct {
	id   string
	aead cipher.AEAD
}

// parseKeys parses the key text: one "ID=base64 of 32 bytes" per line;
// blank lines and lines starting with # are skipped. The first key
// encrypts, all of them decrypt, so rotating is adding a new first line and
// keeping the old ones for as long as histories encrypted with them exist.
func parseKeys(text string) ([]key, error) {
	var keys []key
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, "=")
		id = strings.TrimSpace(id)
		if !ok || !keyIDRe.MatchString(id) {
			// The line is not echoed: it may hold key material.
			return nil, fmt.Errorf("key line %d: want ID=base64-of-32-bytes with an ID of letters, digits, '.', '_' or '-'", n+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("key line %d: key ID %q appears twice", n+1, id)
		}
		k, err := newKey(id, strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("key line %d: %w", n+1, err)
		}
		seen[id] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys: write one ID=base64-of-32-bytes per line (e.g. k1=$(openssl rand -base64 32))")
	}
	return keys, nil
}

// newKey decodes and checks one key.
func newKey(id, b64 string) (key, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(b64); err != nil {
			return key{}, fmt.Errorf("key %q is not base64", id)
		}
	}
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("key %q has %d bytes; AES-256 needs exactly %d (openssl rand -base64 32)", id, len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, fmt.Errorf("key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("key %q: %w", id, err)
	}
	return key{id: id, aead: aead}, nil
}

// ResolveRef reads a secret reference, env:NAME or file:PATH, named by
// setting (for messages); the value itself is refused, so a secret is never
// written into a setting.
func ResolveRef(setting, ref string, getenv func(string) string) (string, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v := getenv(name)
		if strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%s=%s: %s is empty or unset", setting, ref, name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			return "", fmt.Errorf("%s: %w", setting, err)
		}
		return string(b), nil
	default:
		return "", fmt.Errorf("%s must be a reference, env:NAME or file:PATH, not the secret itself", setting)
	}
}

// FromEnv builds the codec RUNBOOK_CODEC_KEYS names; nil without error when
// it is unset (payloads are then stored as they are).
func FromEnv(getenv func(string) string) (*Codec, error) {
	ref := getenv(EnvKeys)
	if strings.TrimSpace(ref) == "" {
		return nil, nil
	}
	text, err := ResolveRef(EnvKeys, ref, getenv)
	if err != nil {
		return nil, err
	}
	c, err := New(text)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", EnvKeys, ref, err)
	}
	return c, nil
}
