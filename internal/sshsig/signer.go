package sshsig

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SignerFromFile loads an OpenSSH private key file (unencrypted; an encrypted one gets an
// error telling the user to use ssh-agent). If path names a public key (".pub" or content
// starting with a key type), the signer is the ssh-agent key (SSH_AUTH_SOCK) matching it.
func SignerFromFile(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sshsig: read key: %w", err)
	}
	if strings.HasSuffix(path, ".pub") || looksLikePublicKey(data) {
		pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("sshsig: %s: bad public key: %v", path, err)
		}
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, fmt.Errorf("sshsig: %s is a public key, so its private key must be in ssh-agent, but SSH_AUTH_SOCK is not set", path)
		}
		return SignerFromAgent(sock, pub)
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("sshsig: %s is encrypted with a passphrase: add it to ssh-agent (ssh-add %s) and pass the public key (%s.pub) instead", path, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("sshsig: %s: bad private key: %v", path, err)
	}
	return signer, nil
}

// looksLikePublicKey reports whether data starts like an authorized_keys line, i.e. with
// a key type name followed by a space.
func looksLikePublicKey(data []byte) bool {
	typ, _, ok := bytes.Cut(bytes.TrimSpace(data), []byte(" "))
	return ok && knownKeyType(string(typ))
}

// SignerFromAgent returns the agent's key equal to pub, or, when pub is nil, the agent's only
// key (error naming the keys when there are several). The agent connection stays open for
// the life of the process because the returned signer signs through it.
func SignerFromAgent(socket string, pub ssh.PublicKey) (ssh.Signer, error) {
	if socket == "" {
		return nil, errors.New("sshsig: no ssh-agent socket (SSH_AUTH_SOCK is not set)")
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("sshsig: connect to ssh-agent: %w", err)
	}
	signer, err := pickAgentSigner(agent.NewClient(conn), pub)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return signer, nil
}

// pickAgentSigner chooses the signer for pub (or the only one) among the agent's keys.
func pickAgentSigner(client agent.ExtendedAgent, pub ssh.PublicKey) (ssh.Signer, error) {
	signers, err := client.Signers()
	if err != nil {
		return nil, fmt.Errorf("sshsig: list ssh-agent keys: %w", err)
	}
	if pub != nil {
		want := pub.Marshal()
		for _, s := range signers {
			if bytes.Equal(s.PublicKey().Marshal(), want) {
				return s, nil
			}
		}
		return nil, fmt.Errorf("sshsig: ssh-agent does not hold key %s (ssh-add it first); it holds: %s", Fingerprint(pub), describe(signers))
	}
	switch len(signers) {
	case 0:
		return nil, errors.New("sshsig: ssh-agent holds no keys (ssh-add one)")
	case 1:
		return signers[0], nil
	default:
		return nil, fmt.Errorf("sshsig: ssh-agent holds %d keys, choose one by its public key file: %s", len(signers), describe(signers))
	}
}

// describe names keys by type and fingerprint for error messages.
func describe(signers []ssh.Signer) string {
	if len(signers) == 0 {
		return "no keys"
	}
	names := make([]string, len(signers))
	for i, s := range signers {
		names[i] = s.PublicKey().Type() + " " + Fingerprint(s.PublicKey())
	}
	return strings.Join(names, ", ")
}
