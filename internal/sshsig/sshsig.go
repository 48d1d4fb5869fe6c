// Package sshsig signs and verifies messages in OpenSSH's SSHSIG format (PROTOCOL.sshsig,
// what `ssh-keygen -Y sign` and git's SSH signing produce) and evaluates git's
// allowed-signers file (ssh-keygen(1) "ALLOWED SIGNERS").
//
// Verification (Verify and the AllowedSigners methods) is pure computation: no clock
// reads (the time is a parameter), no I/O, no randomness, no goroutines, no map iteration,
// so the worker can call it inside Temporal Update validators.
package sshsig

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

const (
	magic      = "SSHSIG"
	sigVersion = 1
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
	// armorWidth is the line length ssh-keygen uses for the base64 body.
	armorWidth = 70
	hashSHA512 = "sha512"
	hashSHA256 = "sha256"
)

// Fingerprint returns the SHA256 fingerprint of key as ssh-keygen -l prints it.
func Fingerprint(key ssh.PublicKey) string { return ssh.FingerprintSHA256(key) }

// Sign makes an armored SSHSIG signature ("-----BEGIN SSH SIGNATURE-----") of message in
// namespace, hash sha512. RSA keys must sign with rsa-sha2-512 (never ssh-rsa/SHA-1).
func Sign(signer ssh.Signer, namespace string, message []byte) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("sshsig: no signer")
	}
	if namespace == "" {
		return nil, errors.New("sshsig: empty namespace")
	}
	data := signedData(namespace, hashSHA512, hashMessage(hashSHA512, message))
	sig, err := signData(signer, data)
	if err != nil {
		return nil, err
	}
	blob := encodeBlob(signer.PublicKey(), namespace, hashSHA512, sig)
	return armor(blob), nil
}

// signData signs data, forcing rsa-sha2-512 for RSA keys: a plain Sign would pick ssh-rsa
// (SHA-1), which ssh-keygen and Verify refuse.
func signData(signer ssh.Signer, data []byte) (*ssh.Signature, error) {
	if !isRSA(signer.PublicKey()) {
		sig, err := signer.Sign(rand.Reader, data)
		if err != nil {
			return nil, fmt.Errorf("sshsig: sign: %w", err)
		}
		return sig, nil
	}
	as, ok := signer.(ssh.AlgorithmSigner)
	if !ok {
		return nil, errors.New("sshsig: RSA signer cannot choose rsa-sha2-512 (SHA-1 signatures are refused)")
	}
	sig, err := as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	if err != nil {
		return nil, fmt.Errorf("sshsig: sign with rsa-sha2-512: %w", err)
	}
	if sig.Format != ssh.KeyAlgoRSASHA512 {
		return nil, fmt.Errorf("sshsig: RSA signer returned a %q signature, want rsa-sha2-512", sig.Format)
	}
	return sig, nil
}

// isRSA reports whether key (or the key inside a certificate) is an RSA key.
func isRSA(key ssh.PublicKey) bool {
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key
	}
	return key.Type() == ssh.KeyAlgoRSA
}

// isSecurityKey reports whether key is a FIDO (sk-) key, whose signatures carry flags and
// a counter after the signature blob.
func isSecurityKey(key ssh.PublicKey) bool {
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key
	}
	t := key.Type()
	return t == ssh.KeyAlgoSKED25519 || t == ssh.KeyAlgoSKECDSA256
}

// Verify checks an armored signature of message in namespace and returns the signing key.
// Refuses: wrong magic/version, another namespace, unknown hash (only sha256, sha512),
// ssh-rsa (SHA-1) signatures, trailing garbage, a bad signature. Errors say what is wrong.
// The key is not checked against any trust root: see AllowedSigners.
func Verify(armored []byte, namespace string, message []byte) (ssh.PublicKey, error) {
	if namespace == "" {
		return nil, errors.New("sshsig: empty namespace")
	}
	blob, err := dearmor(armored)
	if err != nil {
		return nil, err
	}
	p, err := parseBlob(blob)
	if err != nil {
		return nil, err
	}
	if p.namespace != namespace {
		return nil, fmt.Errorf("sshsig: signature is for namespace %q, not %q", p.namespace, namespace)
	}
	if err := checkSignatureFormat(p.key, p.sig); err != nil {
		return nil, err
	}
	data := signedData(namespace, p.hash, hashMessage(p.hash, message))
	if err := p.key.Verify(data, p.sig); err != nil {
		return nil, fmt.Errorf("sshsig: bad signature by %s key %s: %v", p.key.Type(), Fingerprint(p.key), err)
	}
	return p.key, nil
}

// checkSignatureFormat refuses SHA-1 RSA signatures and extra bytes after a non-FIDO
// signature (x/crypto's Verify would ignore them).
func checkSignatureFormat(key ssh.PublicKey, sig *ssh.Signature) error {
	if sig.Format == ssh.KeyAlgoRSA {
		return errors.New("sshsig: ssh-rsa (SHA-1) signatures are refused; sign with rsa-sha2-512")
	}
	if len(sig.Rest) > 0 && !isSecurityKey(key) {
		return errors.New("sshsig: trailing bytes after the signature")
	}
	return nil
}

// parsed is the content of an SSHSIG blob.
type parsed struct {
	key       ssh.PublicKey
	namespace string
	hash      string
	sig       *ssh.Signature
}

// parseBlob decodes the binary SSHSIG structure, refusing anything it does not expect.
func parseBlob(blob []byte) (*parsed, error) {
	if !bytes.HasPrefix(blob, []byte(magic)) {
		return nil, errors.New("sshsig: bad magic, not an SSHSIG signature")
	}
	r := reader{b: blob[len(magic):]}
	version, ok := r.uint32()
	if !ok {
		return nil, errors.New("sshsig: truncated signature (version)")
	}
	if version != sigVersion {
		return nil, fmt.Errorf("sshsig: unsupported signature version %d", version)
	}
	fields := make([][]byte, 5)
	names := []string{"public key", "namespace", "reserved", "hash algorithm", "signature"}
	for i := range fields {
		if fields[i], ok = r.string(); !ok {
			return nil, fmt.Errorf("sshsig: truncated signature (%s)", names[i])
		}
	}
	if len(r.b) > 0 {
		return nil, fmt.Errorf("sshsig: %d bytes of trailing garbage after the signature", len(r.b))
	}
	key, err := ssh.ParsePublicKey(fields[0])
	if err != nil {
		return nil, fmt.Errorf("sshsig: bad public key in signature: %v", err)
	}
	if len(fields[2]) > 0 {
		return nil, errors.New("sshsig: reserved field is not empty")
	}
	hash := string(fields[3])
	if hash != hashSHA512 && hash != hashSHA256 {
		return nil, fmt.Errorf("sshsig: unsupported hash algorithm %q (only sha256, sha512)", hash)
	}
	sig := new(ssh.Signature)
	if err := ssh.Unmarshal(fields[4], sig); err != nil {
		return nil, fmt.Errorf("sshsig: bad signature encoding: %v", err)
	}
	return &parsed{key: key, namespace: string(fields[1]), hash: hash, sig: sig}, nil
}

// hashMessage returns H(message) for a supported hash name.
func hashMessage(hash string, message []byte) []byte {
	if hash == hashSHA256 {
		h := sha256.Sum256(message)
		return h[:]
	}
	h := sha512.Sum512(message)
	return h[:]
}

// signedData is the byte string the key actually signs (PROTOCOL.sshsig §3).
func signedData(namespace, hash string, digest []byte) []byte {
	var b []byte
	b = append(b, magic...)
	b = appendString(b, []byte(namespace))
	b = appendString(b, nil) // reserved
	b = appendString(b, []byte(hash))
	return appendString(b, digest)
}

// encodeBlob builds the binary SSHSIG structure (PROTOCOL.sshsig §2).
func encodeBlob(key ssh.PublicKey, namespace, hash string, sig *ssh.Signature) []byte {
	var b []byte
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint32(b, sigVersion)
	b = appendString(b, key.Marshal())
	b = appendString(b, []byte(namespace))
	b = appendString(b, nil) // reserved
	b = appendString(b, []byte(hash))
	return appendString(b, ssh.Marshal(sig))
}

func appendString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// reader reads SSH wire-format fields from b.
type reader struct{ b []byte }

func (r *reader) uint32() (uint32, bool) {
	if len(r.b) < 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v, true
}

func (r *reader) string() ([]byte, bool) {
	n, ok := r.uint32()
	if !ok || uint64(n) > uint64(len(r.b)) {
		return nil, false
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s, true
}

// armor wraps blob like ssh-keygen: base64 in lines of 70 between BEGIN and END lines.
func armor(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var sb strings.Builder
	sb.WriteString(armorBegin + "\n")
	for len(enc) > armorWidth {
		sb.WriteString(enc[:armorWidth] + "\n")
		enc = enc[armorWidth:]
	}
	sb.WriteString(enc + "\n")
	sb.WriteString(armorEnd + "\n")
	return []byte(sb.String())
}

// dearmor returns the binary blob inside an armored signature. Only whitespace may
// surround the armor, and the body must be strict, complete base64.
func dearmor(armored []byte) ([]byte, error) {
	s := strings.TrimSpace(string(armored))
	if !strings.HasPrefix(s, armorBegin) {
		return nil, errors.New("sshsig: missing " + armorBegin)
	}
	if !strings.HasSuffix(s, armorEnd) {
		return nil, errors.New("sshsig: missing " + armorEnd + " (truncated signature?) or text after it")
	}
	if len(s) < len(armorBegin)+len(armorEnd) {
		return nil, errors.New("sshsig: malformed armor")
	}
	body := s[len(armorBegin) : len(s)-len(armorEnd)]
	if strings.Contains(body, "-----") {
		return nil, errors.New("sshsig: malformed armor (more than one signature?)")
	}
	body = strings.Join(strings.Fields(body), "")
	blob, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("sshsig: bad base64 in signature: %v", err)
	}
	return blob, nil
}
