package sshsig

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestPrincipalsMatchesSSHKeygen compares Principals with `ssh-keygen -Y find-principals`
// on the same file. ssh-keygen prints the principals of the first line that lists the key
// and is valid at the time (patterns included, namespaces ignored), so each case has at
// most one such line and no namespaces= option.
func TestPrincipalsMatchesSSHKeygen(t *testing.T) {
	keygen := needTool(t, "ssh-keygen")
	dir := t.TempDir()
	key := genKey(t, dir, "key", "ed25519", "", "")
	other := genKey(t, dir, "other", "ed25519", "", "")
	signer, err := SignerFromFile(key.path)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(signer, "ns", []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	sigPath := writeFile(t, dir, "sig", sig)
	k, o := authorizedLine(key.pub), authorizedLine(other.pub)
	cases := []struct {
		name, file, at string // at is YYYYMMDD in UTC
	}{
		{"patterns left out", "bob " + o + "\nalice,bob*,carol,!dave " + k + "\n", "20270601"},
		{"expired line skipped", `old valid-before="20200101" ` + k + "\n" + `"new one,two" valid-after="20250101" ` + k + "\n", "20270601"},
		{"before the window", `old valid-before="20200101" ` + k + "\n" + `"new one,two" valid-after="20250101" ` + k + "\n", "20190101"},
		{"between windows", `old valid-before="20200101" ` + k + "\n" + `"new one,two" valid-after="20250101" ` + k + "\n", "20220101"},
		{"key not listed", "alice " + o + "\n", "20270601"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allowed := writeFile(t, t.TempDir(), "allowed", []byte(c.file))
			out, runErr := runStdout(t, []string{"TZ=UTC"}, keygen, "-Y", "find-principals", "-f", allowed, "-s", sigPath, "-Overify-time="+c.at)
			var want []string
			if runErr == nil {
				for _, p := range strings.Split(strings.TrimSpace(out), "\n") {
					if !strings.ContainsAny(p, "*?!") {
						want = append(want, p)
					}
				}
			}
			a, err := ParseAllowedSigners(c.file, "allowed")
			if err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse("20060102", c.at)
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Principals(key.pub, "ns", at); !slices.Equal(got, want) {
				t.Fatalf("Principals = %q, ssh-keygen find-principals printed %q (err %v)", got, out, runErr)
			}
		})
	}
}

// TestCertAuthority checks a signature by a certificate from ssh-keygen against a
// cert-authority entry, in both tools, and the certificate checks with Go-made certs.
func TestCertAuthority(t *testing.T) {
	keygen := needTool(t, "ssh-keygen")
	dir := t.TempDir()
	ca := genKey(t, dir, "ca", "ed25519", "", "")
	user := genKey(t, dir, "user", "ed25519", "", "")
	if out, err := run(t, nil, nil, keygen, "-q", "-s", ca.path, "-I", "id", "-n", "alice,bob", "-V", "20260101:20280101", user.path+".pub"); err != nil {
		t.Fatalf("ssh-keygen -s: %v\n%s", err, out)
	}
	msg := []byte("approve")
	msgPath := writeFile(t, dir, "msg", msg)
	if out, err := run(t, nil, nil, keygen, "-Y", "sign", "-f", user.path+"-cert.pub", "-n", "ns", msgPath); err != nil {
		t.Fatalf("ssh-keygen -Y sign with a certificate: %v\n%s", err, out)
	}
	sig := mustRead(t, msgPath+".sig")
	key, err := Verify(sig, "ns", msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := key.(*ssh.Certificate); !ok {
		t.Fatalf("Verify returned a %T, want the certificate", key)
	}
	file := "al* cert-authority " + authorizedLine(ca.pub) + "\n"
	a, err := ParseAllowedSigners(file, "allowed")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	checkErr(t, a.Authorized("alice", key, "ns", at), "")
	checkErr(t, a.Authorized("bob", key, "ns", at), "no entry for principal")
	checkErr(t, a.Authorized("alfred", key, "ns", at), "not in the set of valid principals")
	checkErr(t, a.Authorized("alice", key, "ns", time.Date(2028, 6, 1, 0, 0, 0, 0, time.UTC)), "expired")
	checkErr(t, a.Authorized("alice", user.pub, "ns", at), "is not listed")
	if got := a.Principals(key, "ns", at); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("Principals(cert) = %q, want [alice]", got)
	}
	allowed := writeFile(t, dir, "allowed", []byte(file))
	if out, err := run(t, msg, nil, keygen, "-Y", "verify", "-f", allowed, "-I", "alice", "-n", "ns", "-s", msgPath+".sig"); err != nil {
		t.Fatalf("ssh-keygen -Y verify of the certificate signature: %v\n%s", err, out)
	}
	if _, err := run(t, msg, nil, keygen, "-Y", "verify", "-f", allowed, "-I", "alfred", "-n", "ns", "-s", msgPath+".sig"); err == nil {
		t.Fatal("ssh-keygen accepted a principal the certificate does not name; the test's premise is wrong")
	}
	checkGoCerts(t, a, at)
}

// checkGoCerts signs with certificates made in Go that the cert-authority entry in a
// must refuse, each for its own reason.
func checkGoCerts(t *testing.T, a *AllowedSigners, at time.Time) {
	caSigner := seededSigner(t, 7)
	b, err := ParseAllowedSigners("alice cert-authority "+authorizedLine(caSigner.PublicKey()), "allowed")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mod  func(*ssh.Certificate)
		want string
	}{
		{"control", func(*ssh.Certificate) {}, ""},
		{"host certificate", func(c *ssh.Certificate) { c.CertType = ssh.HostCert }, "not a user certificate"},
		{"critical option", func(c *ssh.Certificate) { c.CriticalOptions = map[string]string{"force-command": "x"} }, "unsupported critical options force-command"},
		{"not yet valid", func(c *ssh.Certificate) { c.ValidAfter = uint64(at.Unix() + 1) }, "not yet valid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cert := &ssh.Certificate{Key: seededSigner(t, 8).PublicKey(), CertType: ssh.UserCert, ValidPrincipals: []string{"alice"},
				ValidBefore: ssh.CertTimeInfinity}
			c.mod(cert)
			if err := cert.SignCert(rand.Reader, caSigner); err != nil {
				t.Fatal(err)
			}
			checkErr(t, b.Authorized("alice", cert, "ns", at), c.want)
			if a.Authorized("alice", cert, "ns", at) == nil {
				t.Fatal("a certificate from another CA was authorized")
			}
		})
	}
}
