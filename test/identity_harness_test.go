package test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/runbookhq/runbook/internal/identity"
)

// The e2e people: each has an SSH key of their own, listed under their name
// in the worker's allowed signers, and the CLI signs with the key of whoever
// --as names (or the default actor). So the e2e tests decide as verified
// people, the way a team does, and the trust tests can sign as one person
// and claim to be another.
var people = []string{"alice", "bob", "cab", "carol", "dana", "dave", "erin", "frank", "mallory", "rita", "sre", "chaos", "e2e", "bench"}

// slackPrincipal is the worker's Slack key in the allowed signers.
const slackPrincipal = "runbook-worker"

// alertsPrincipals are the names the worker's alerts key signs as
// (internal/alerts: the alerts' controls and rollbacks, the breaker's
// freezes). Every e2e worker trusts it: the Freezes workflow of a
// namespace checks signatures with whichever worker serves it.
const alertsPrincipals = "runbook:alerts,runbook:breaker"

// keyring holds the people's keys, the worker's Slack key and its alerts key.
type keyring struct {
	dir            string
	allowedSigners string
	slackKey       string
	alertsKey      string
	signers        map[string]ssh.Signer
}

var (
	keysOnce sync.Once
	keys     *keyring
	keysErr  error
)

// theKeyring makes the keys once per test process.
func theKeyring(t testing.TB) *keyring {
	t.Helper()
	keysOnce.Do(func() { keys, keysErr = newKeyring() })
	if keysErr != nil {
		t.Fatalf("e2e keys: %v", keysErr)
	}
	return keys
}

func newKeyring() (*keyring, error) {
	if err := ensureTmp(); err != nil {
		return nil, err
	}
	k := &keyring{dir: filepath.Join(stack.tmp, "keys"), signers: map[string]ssh.Signer{}}
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return nil, err
	}
	var lines []string
	for _, name := range allPeople() {
		s, err := writeKey(filepath.Join(k.dir, name))
		if err != nil {
			return nil, err
		}
		k.signers[name] = s
		lines = append(lines, name+" "+authorized(s))
	}
	s, err := writeKey(filepath.Join(k.dir, slackPrincipal))
	if err != nil {
		return nil, err
	}
	k.slackKey = filepath.Join(k.dir, slackPrincipal)
	lines = append(lines, fmt.Sprintf("%s namespaces=%q %s", slackPrincipal, identity.NamespaceSlack, authorized(s)))
	k.alertsKey = filepath.Join(k.dir, "runbook-alerts")
	a, err := writeKey(k.alertsKey)
	if err != nil {
		return nil, err
	}
	lines = append(lines, alertsPrincipals+" "+authorized(a))
	k.allowedSigners = filepath.Join(k.dir, "allowed_signers")
	return k, os.WriteFile(k.allowedSigners, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// allPeople adds the default actor of the CLI (the user running the tests).
func allPeople() []string {
	all := slices.Clone(people)
	if u := defaultCLIActor(nil); u != "" && !slices.Contains(all, u) {
		all = append(all, u)
	}
	return all
}

// defaultCLIActor is who the CLI acts as without --as: RUNBOOK_USER in env,
// else the user running the tests.
func defaultCLIActor(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "RUNBOOK_USER="); ok && v != "" {
			return v
		}
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

func writeKey(path string) (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

func authorized(s ssh.Signer) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

// workerEnv is what a worker needs to verify the people's signatures.
func (k *keyring) workerEnv() []string {
	return []string{"RUNBOOK_ALLOWED_SIGNERS=" + k.allowedSigners, "RUNBOOK_SLACK_SIGNING_KEY=" + k.slackKey}
}

// signingEnv adds the key of whoever the CLI acts as to env, unless env
// says how to sign already (RUNBOOK_SIGNING_KEY, empty for unsigned).
func (k *keyring) signingEnv(env []string, args []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "RUNBOOK_SIGNING_KEY=") {
			return env
		}
	}
	actor := defaultCLIActor(env)
	if i := slices.Index(args, "--as"); i >= 0 && i+1 < len(args) {
		actor = args[i+1]
	}
	if _, ok := k.signers[actor]; !ok {
		return env
	}
	return append(slices.Clone(env), "RUNBOOK_SIGNING_KEY="+filepath.Join(k.dir, actor))
}

// Sign makes the keyring an identity.Signer for the tests' releases.Client:
// it signs as the person named, with their key.
func (k *keyring) Sign(ctx context.Context, c identity.Claim, as string) (*identity.Proof, error) {
	return identity.Keyring(k.signers).Sign(ctx, c, as)
}

// Describe names the keyring.
func (k *keyring) Describe() string { return "the e2e keyring" }

// sshFingerprint is how the workflow names a key.
func sshFingerprint(s ssh.Signer) string { return ssh.FingerprintSHA256(s.PublicKey()) }

// ownSigners is a test's own copy of the keyring's allowed signers, which
// the test may edit while its worker runs (the keyring's file is shared).
type ownSigners struct {
	path     string
	original string
}

// startWorkerWithOwnSigners starts r's worker on its own copy of the
// allowed signers.
func startWorkerWithOwnSigners(t *testing.T, r *rig) ownSigners {
	t.Helper()
	b, err := os.ReadFile(theKeyring(t).allowedSigners)
	if err != nil {
		t.Fatal(err)
	}
	o := ownSigners{path: filepath.Join(r.dir, "allowed_signers"), original: string(b)}
	if err := os.WriteFile(o.path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r.startWorker("RUNBOOK_ALLOWED_SIGNERS=" + o.path)
	return o
}

// revoke removes principal's line from the file, as an admin revoking a
// key would.
func (o ownSigners) revoke(t *testing.T, principal string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(o.original), "\n")
	kept := slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.HasPrefix(l, principal+" ") })
	if len(kept) == len(lines) {
		t.Fatalf("the keyring's allowed signers have no line for %s:\n%s", principal, o.original)
	}
	if err := os.WriteFile(o.path, []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
