package sshsig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startAgent starts a real ssh-agent in the foreground on a socket in dir and stops it
// by its pid when the test ends.
func startAgent(t *testing.T, dir string) string {
	t.Helper()
	bin := needTool(t, "ssh-agent")
	sock := filepath.Join(dir, "agent.sock")
	cmd := exec.Command(bin, "-D", "-a", sock)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent (pid %d) did not create %s within 10s", cmd.Process.Pid, sock)
		}
		time.Sleep(20 * time.Millisecond) // polling for the socket, with a deadline
	}
}

// sshAdd adds a private key file to the agent at sock.
func sshAdd(t *testing.T, sock, keyPath string) {
	t.Helper()
	out, err := run(t, nil, []string{"SSH_AUTH_SOCK=" + sock}, needTool(t, "ssh-add"), keyPath)
	if err != nil {
		t.Fatalf("ssh-add %s: %v\n%s", keyPath, err, out)
	}
}

// TestAgentSigning signs through a real ssh-agent, by SignerFromAgent and by
// SignerFromFile given the public key, and checks the result with ssh-keygen and Verify.
func TestAgentSigning(t *testing.T) {
	keygen := needTool(t, "ssh-keygen")
	dir := t.TempDir()
	sock := startAgent(t, dir)
	ed := genKey(t, dir, "ed", "ed25519", "", "")
	rsaKey := genKey(t, dir, "rsa", "rsa", "3072", "")

	if _, err := SignerFromAgent(sock, nil); err == nil || !strings.Contains(err.Error(), "no keys") {
		t.Fatalf("SignerFromAgent on an empty agent = %v, want a 'no keys' error", err)
	}
	sshAdd(t, sock, ed.path)
	only, err := SignerFromAgent(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(only.PublicKey().Marshal(), ed.pub.Marshal()) {
		t.Fatal("SignerFromAgent(nil) did not return the agent's only key")
	}

	sshAdd(t, sock, rsaKey.path)
	_, err = SignerFromAgent(sock, nil)
	if err == nil || !strings.Contains(err.Error(), Fingerprint(ed.pub)) || !strings.Contains(err.Error(), Fingerprint(rsaKey.pub)) {
		t.Fatalf("SignerFromAgent(nil) with two keys = %v, want an error naming both", err)
	}
	if _, err := SignerFromAgent(sock, genKey(t, dir, "absent", "ed25519", "", "").pub); err == nil {
		t.Fatal("SignerFromAgent found a key the agent does not hold")
	}

	byAgent, err := SignerFromAgent(sock, rsaKey.pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	byFile, err := SignerFromFile(ed.path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  keyFile
		sign func([]byte) ([]byte, error)
	}{
		{"SignerFromAgent rsa", rsaKey, func(m []byte) ([]byte, error) { return Sign(byAgent, "runbook", m) }},
		{"SignerFromFile pub ed25519", ed, func(m []byte) ([]byte, error) { return Sign(byFile, "runbook", m) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := []byte("abort release 7\n")
			sig, err := c.sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := Verify(sig, "runbook", msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pub.Marshal(), c.key.pub.Marshal()) {
				t.Fatal("Verify returned another key")
			}
			if f := mustParse(t, sig).sig.Format; c.key.pub.Type() == "ssh-rsa" && f != "rsa-sha2-512" {
				t.Fatalf("agent RSA signature format %q, want rsa-sha2-512", f)
			}
			allowed := writeFile(t, t.TempDir(), "allowed", []byte("alice "+authorizedLine(c.key.pub)+"\n"))
			sigPath := writeFile(t, t.TempDir(), "sig", sig)
			if out, err := run(t, msg, nil, keygen, "-Y", "verify", "-f", allowed, "-I", "alice", "-n", "runbook", "-s", sigPath); err != nil {
				t.Fatalf("ssh-keygen refused the agent signature: %v\n%s", err, out)
			}
		})
	}

	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := SignerFromFile(ed.path + ".pub"); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Fatalf("SignerFromFile(.pub) without an agent = %v, want an error naming SSH_AUTH_SOCK", err)
	}
}
