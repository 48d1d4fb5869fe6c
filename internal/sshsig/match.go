package sshsig

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Reasons an entry refuses, in increasing specificity: Authorized reports the most
// specific one, so "namespace not allowed" wins over "key not listed" from another line.
const (
	rankKey = iota + 1
	rankNamespace
	rankTime
)

// refusal is why one entry does not authorize a signature.
type refusal struct {
	rank int
	err  error
}

// Authorized reports nil when key may sign as principal in namespace at time at, like
// `ssh-keygen -Y verify -I principal -n namespace` (principal matched against the patterns;
// an entry without namespaces= allows every namespace). Else an error saying why (no entry
// for principal, key not listed for principal, namespace not allowed, not yet/no longer valid).
func (a *AllowedSigners) Authorized(principal string, key ssh.PublicKey, namespace string, at time.Time) error {
	if key == nil {
		return errors.New("sshsig: no key")
	}
	if principal == "" {
		return errors.New("sshsig: empty principal")
	}
	var worst *refusal
	for i := range a.entries {
		e := &a.entries[i]
		if !matchList(e.principals, principal) {
			continue
		}
		r := e.check(a.name, principal, key, namespace, at)
		if r == nil {
			return nil
		}
		if worst == nil || r.rank > worst.rank {
			worst = r
		}
	}
	if worst == nil {
		return fmt.Errorf("sshsig: %s has no entry for principal %q", a.name, principal)
	}
	return worst.err
}

// check returns nil when e lets key sign as principal in namespace at at.
func (e *entry) check(file, principal string, key ssh.PublicKey, namespace string, at time.Time) *refusal {
	where := fmt.Sprintf("%s:%d", file, e.line)
	if !e.listsKey(key) {
		return &refusal{rankKey, fmt.Errorf("sshsig: key %s is not listed for principal %q", Fingerprint(key), principal)}
	}
	if e.hasNamespaces && !matchList(e.namespaces, namespace) {
		return &refusal{rankNamespace, fmt.Errorf("sshsig: %s does not allow namespace %q for principal %q (namespaces=%q)",
			where, namespace, principal, strings.Join(e.namespaces, ","))}
	}
	if err := e.checkTime(where, at); err != nil {
		return &refusal{rankTime, err}
	}
	if cert, ok := key.(*ssh.Certificate); ok {
		if err := checkCert(cert, principal, at); err != nil {
			return &refusal{rankTime, fmt.Errorf("sshsig: %s: certificate refused: %v", where, err)}
		}
	}
	return nil
}

// checkTime applies valid-after and valid-before with ssh-keygen's whole-second,
// inclusive comparison.
func (e *entry) checkTime(where string, at time.Time) error {
	now := at.Unix()
	if e.validAfter != 0 && now < e.validAfter {
		return fmt.Errorf("sshsig: %s: key is not yet valid (valid-after %s)", where, time.Unix(e.validAfter, 0).UTC().Format(time.RFC3339))
	}
	if e.validBefore != 0 && now > e.validBefore {
		return fmt.Errorf("sshsig: %s: key is no longer valid (valid-before %s)", where, time.Unix(e.validBefore, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// listsKey reports whether e names key: the same key for a plain entry, or a certificate
// signed by the entry's key for a cert-authority entry.
func (e *entry) listsKey(key ssh.PublicKey) bool {
	cert, isCert := key.(*ssh.Certificate)
	if e.certAuthority {
		return isCert && bytes.Equal(cert.SignatureKey.Marshal(), e.key.Marshal())
	}
	return !isCert && bytes.Equal(key.Marshal(), e.key.Marshal())
}

// checkCert validates a user certificate for principal at time at. Critical options are
// refused (none applies to signatures), and so are SHA-1 CA signatures, as in OpenSSH.
func checkCert(cert *ssh.Certificate, principal string, at time.Time) error {
	if cert.CertType != ssh.UserCert {
		return errors.New("not a user certificate")
	}
	if len(cert.CriticalOptions) > 0 {
		names := make([]string, 0, len(cert.CriticalOptions))
		for name := range cert.CriticalOptions {
			names = append(names, name)
		}
		slices.Sort(names) // deterministic message
		return fmt.Errorf("unsupported critical options %s", strings.Join(names, ","))
	}
	if cert.Signature == nil || cert.Signature.Format == ssh.KeyAlgoRSA {
		return errors.New("certificate signed with ssh-rsa (SHA-1)")
	}
	checker := ssh.CertChecker{Clock: func() time.Time { return at }}
	return checker.CheckCert(principal, cert)
}

// Principals lists the literal (non-pattern) principals key may sign as in namespace at at,
// like `ssh-keygen -Y find-principals`, in file order, without duplicates. For a
// certificate, they are its principals that a cert-authority entry for its CA matches.
func (a *AllowedSigners) Principals(key ssh.PublicKey, namespace string, at time.Time) []string {
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for i := range a.entries {
		e := &a.entries[i]
		if !e.listsKey(key) || (e.hasNamespaces && !matchList(e.namespaces, namespace)) || e.checkTime("", at) != nil {
			continue
		}
		if cert, ok := key.(*ssh.Certificate); ok {
			for _, p := range cert.ValidPrincipals {
				if matchList(e.principals, p) && checkCert(cert, p, at) == nil {
					add(p)
				}
			}
			continue
		}
		for _, p := range e.principals {
			if !strings.ContainsAny(p, "*?!") {
				add(p)
			}
		}
	}
	return out
}

// RestrictsNamespace reports whether every entry listing key has an explicit namespaces=
// option containing namespace (used to accept the worker's own key only where the admin
// deliberately limited it to the "runbook-slack" namespace). Only literal namespaces count,
// not patterns, and a key listed nowhere restricts nothing (false).
func (a *AllowedSigners) RestrictsNamespace(key ssh.PublicKey, namespace string) bool {
	listed := false
	for i := range a.entries {
		e := &a.entries[i]
		if !e.listsKey(key) {
			continue
		}
		listed = true
		if !e.hasNamespaces || !slices.Contains(e.namespaces, namespace) {
			return false
		}
	}
	return listed
}

// matchList reports whether s matches a comma-separated pattern list as OpenSSH's
// match_pattern_list does: a matching negated ("!") pattern refuses outright, else any
// matching pattern accepts.
func matchList(patterns []string, s string) bool {
	matched := false
	for _, p := range patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if match(neg, s) {
				return false
			}
		} else if match(p, s) {
			matched = true
		}
	}
	return matched
}

// match reports whether s matches pattern, where * is any run of bytes and ? one byte.
// It backtracks only to the last *, so it runs in O(len(pattern)*len(s)).
func match(pattern, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			pi++
			si++
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi, mark = star+1, mark+1
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
