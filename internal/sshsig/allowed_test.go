package sshsig

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testNow is the fixed verification time of the table tests.
var testNow = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)

// TestAuthorized runs principals, patterns, namespaces and validity windows through
// Authorized; want is "" for success or a fragment of the error.
func TestAuthorized(t *testing.T) {
	alice, bob, worker := seededSigner(t, 1).PublicKey(), seededSigner(t, 2).PublicKey(), seededSigner(t, 3).PublicKey()
	file := strings.Join([]string{
		"# team leads",
		"",
		"alice@example.com " + authorizedLine(alice) + " alice's laptop",
		`  "ops *,bob@example.com" namespaces="runbook,git" ` + authorizedLine(bob),
		"*@contractor.example,!eve@contractor.example valid-after=\"20270101\",valid-before=\"20270630235959Z\" " + authorizedLine(bob),
		"dev-? VALID-AFTER=\"202801010000\" " + authorizedLine(alice),
		"runbook-worker namespaces=\"runbook-slack\" " + authorizedLine(worker),
	}, "\n")
	a, err := ParseAllowedSigners(file, "allowed_signers")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, principal, namespace string
		key                        int // index into keys
		at                         time.Time
		want                       string
	}{
		{"literal principal", "alice@example.com", "runbook", 0, testNow, ""},
		{"no namespaces= allows all", "alice@example.com", "anything", 0, testNow, ""},
		{"no entry", "mallory@example.com", "runbook", 0, testNow, "no entry for principal"},
		{"key not listed", "alice@example.com", "runbook", 1, testNow, "is not listed for principal"},
		{"quoted principal with space and pattern", "ops team", "runbook", 1, testNow, ""},
		{"quoted list second item", "bob@example.com", "git", 1, testNow, ""},
		{"namespace not allowed", "bob@example.com", "runbook-slack", 1, testNow, `does not allow namespace "runbook-slack"`},
		{"star pattern in window", "carol@contractor.example", "x", 1, testNow, ""},
		{"negated principal", "eve@contractor.example", "x", 1, testNow, "no entry for principal"},
		{"not yet valid", "carol@contractor.example", "x", 1, time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), "not yet valid"},
		{"valid-after is inclusive", "carol@contractor.example", "x", 1, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"valid-before is inclusive", "carol@contractor.example", "x", 1, time.Date(2027, 6, 30, 23, 59, 59, 999, time.UTC), ""},
		{"no longer valid", "carol@contractor.example", "x", 1, time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), "no longer valid"},
		{"question mark pattern, upper-case option, not yet", "dev-1", "x", 0, testNow, "not yet valid"},
		{"question mark pattern valid", "dev-1", "x", 0, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"question mark is one char", "dev-12", "x", 0, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), "no entry for principal"},
		{"worker key in its namespace", "runbook-worker", "runbook-slack", 2, testNow, ""},
		{"empty principal", "", "x", 0, testNow, "empty principal"},
		{"worker key elsewhere", "runbook-worker", "runbook", 2, testNow, "does not allow namespace"},
	}
	keys := []ssh.PublicKey{alice, bob, worker}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := a.Authorized(c.principal, keys[c.key], c.namespace, c.at)
			checkErr(t, err, c.want)
		})
	}
	if !a.RestrictsNamespace(worker, "runbook-slack") {
		t.Error("RestrictsNamespace(worker, runbook-slack) = false, want true")
	}
	if a.RestrictsNamespace(worker, "runbook") || a.RestrictsNamespace(alice, "runbook-slack") || a.RestrictsNamespace(bob, "runbook") {
		t.Error("RestrictsNamespace true for a key or namespace the file does not restrict")
	}
	if a.RestrictsNamespace(seededSigner(t, 9).PublicKey(), "runbook-slack") {
		t.Error("RestrictsNamespace true for an unlisted key")
	}
	got := a.Principals(bob, "git", testNow)
	if want := []string{"bob@example.com"}; !slices.Equal(got, want) {
		t.Errorf("Principals(bob, git) = %q, want %q", got, want)
	}
	got = a.Principals(alice, "x", time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	if want := []string{"alice@example.com"}; !slices.Equal(got, want) {
		t.Errorf("Principals(alice) = %q, want %q (patterns are not principals)", got, want)
	}
}

// checkErr asserts err is nil when want is "", else an error containing want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// TestParseAllowedSignersErrors checks each bad line is refused with name:line:col.
func TestParseAllowedSignersErrors(t *testing.T) {
	key := authorizedLine(seededSigner(t, 1).PublicKey())
	b64 := strings.Fields(key)[1]
	cases := []struct{ line, want string }{
		{"alice ssh-ed25519 AAAAnotbase64!", "f:2:19: bad base64 key"},
		{"alice ssh-ed25519 " + b64[:20], "f:2:19: bad"},
		{"alice ecdsa-sha2-nistp256 " + b64, "f:2:27: key is ssh-ed25519, but the line says ecdsa-sha2-nistp256"},
		{"alice", "f:2:6: missing public key"},
		{"alice ssh-ed25519", "f:2:18: missing base64 key"},
		{"alice foo=\"x\" " + key, `f:2:7: unknown option "foo=\"x\""`},
		{"alice cert-authority,bar " + key, `f:2:22: unknown option "bar"`},
		{"alice namespaces=git " + key, "f:2:7: option namespaces needs a quoted value"},
		{`alice namespaces="" ` + key, "f:2:7: empty namespace"},
		{`alice namespaces="a,,b" ` + key, "f:2:7: empty namespace"},
		{`alice valid-after="2027" ` + key, "f:2:7: option valid-after: invalid time 2027"},
		{`alice valid-after="20271301" ` + key, "f:2:7: option valid-after: invalid time"},
		{`alice valid-after="20270101",valid-before="20260101" ` + key, "f:2:7: valid-before is not after valid-after"},
		{`alice namespaces="a",namespaces="b" ` + key, "f:2:22: option namespaces given twice"},
		{`"alice bob ` + key, "f:2:1: unterminated quote"},
		{`alice,,bob ` + key, "f:2:7: empty principal"},
		{`al"ic"e ` + key, "f:2:1: stray quote"},
		{`al"ice ` + key, "f:2:1: unterminated quote"},
		{`alice namespaces="x" ssh-foo AAAA`, `f:2:22: unknown key type "ssh-foo"`},
		{`alice cert-authority=yes ` + key, "f:2:7: cert-authority takes no value"},
		{key, "f:2:1: missing principals before the ssh-ed25519 key"},
		{"alice " + strings.Replace(certLine(t), " ", "  ", 1), "f:2:7: a certificate cannot be listed"},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			_, err := ParseAllowedSigners("# ok\n"+c.line+"\n", "f")
			checkErr(t, err, c.want)
		})
	}
}

// TestMatch covers the wildcard matcher directly, including backtracking.
func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"", "", true}, {"", "a", false}, {"a*b", "ab", true},
		{"a*b", "axxbxb", true}, {"a*b", "axxbx", false}, {"?", "", false},
		{"*@example.com", "a@example.com", true}, {"*@example.com", "a@example.co", false},
		{"a*a*a*a*b", strings.Repeat("a", 200), false}, {"**?", "x", true},
	}
	for _, c := range cases {
		if got := match(c.pattern, c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

// certLine is an allowed-signers key field holding a user certificate.
func certLine(t *testing.T) string {
	cert := &ssh.Certificate{Key: seededSigner(t, 2).PublicKey(), CertType: ssh.UserCert,
		ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, seededSigner(t, 1)); err != nil {
		t.Fatal(err)
	}
	return authorizedLine(cert)
}
