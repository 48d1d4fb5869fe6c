package sshsig

import (
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// AllowedSigners is a parsed allowed-signers file (ssh-keygen(1) "ALLOWED SIGNERS", the file
// git's gpg.ssh.allowedSignersFile names). It is immutable after parsing, so one value may
// be shared by concurrent validators.
type AllowedSigners struct {
	name    string
	entries []entry
}

// entry is one line of the file.
type entry struct {
	line int
	// principals are match patterns (* and ?), possibly negated with a leading "!".
	principals []string
	// namespaces is the namespaces= pattern list; nil (hasNamespaces false) allows all.
	namespaces    []string
	hasNamespaces bool
	// validAfter and validBefore are Unix seconds; zero means no bound, as in ssh-keygen.
	validAfter, validBefore int64
	certAuthority           bool
	key                     ssh.PublicKey
}

// knownKeyType reports whether t names an SSH public key or certificate type. DSA is
// left out: OpenSSH no longer supports it, so such a line is an error.
func knownKeyType(t string) bool {
	switch t {
	case ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256,
		ssh.CertAlgoRSAv01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
		ssh.CertAlgoED25519v01, ssh.CertAlgoSKED25519v01, ssh.CertAlgoSKECDSA256v01:
		return true
	}
	return false
}

// ParseAllowedSigners parses the file's text; name is used in errors as name:line:col.
// Supports: comma-separated principals with * and ? patterns (and quoted principals),
// options namespaces="a,b", valid-after="YYYYMMDD[HHMM[SS]][Z]", valid-before=..., and
// cert-authority (user certificates signed by that CA verify when the principal is in the
// certificate). Comments (#) and blank lines skipped. Unknown options are an error.
//
// Unlike ssh-keygen, a time without the Z suffix is read as UTC, not as the local time
// zone, so every worker evaluates the file the same way.
func ParseAllowedSigners(text, name string) (*AllowedSigners, error) {
	a := &AllowedSigners{name: name}
	for i, line := range strings.Split(text, "\n") {
		p := &lineParser{name: name, line: i + 1, s: strings.TrimSuffix(line, "\r")}
		e, ok, err := p.parse()
		if err != nil {
			return nil, err
		}
		if ok {
			a.entries = append(a.entries, e)
		}
	}
	return a, nil
}

// lineParser parses one line, tracking the byte position for error columns.
type lineParser struct {
	name string
	line int
	s    string
	pos  int
}

// errorf makes an error located at byte offset pos of the line.
func (p *lineParser) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("%s:%d:%d: %s", p.name, p.line, pos+1, fmt.Sprintf(format, args...))
}

func (p *lineParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// token returns the next field, up to whitespace outside double quotes, and its offset.
func (p *lineParser) token() (string, int, error) {
	p.skipSpace()
	start, quoted := p.pos, false
	for ; p.pos < len(p.s); p.pos++ {
		c := p.s[p.pos]
		if c == '"' {
			quoted = !quoted
		} else if !quoted && (c == ' ' || c == '\t') {
			break
		}
	}
	if quoted {
		return "", start, p.errorf(start, "unterminated quote")
	}
	return p.s[start:p.pos], start, nil
}

// parse returns the line's entry, or ok false for a blank or comment line.
func (p *lineParser) parse() (e entry, ok bool, err error) {
	e.line = p.line
	p.skipSpace()
	if p.pos == len(p.s) || p.s[p.pos] == '#' {
		return e, false, nil
	}
	if e.principals, err = p.principals(); err != nil {
		return e, false, err
	}
	tok, at, err := p.token()
	if err != nil {
		return e, false, err
	}
	if tok != "" && !knownKeyType(tok) {
		if err := p.options(&e, tok, at); err != nil {
			return e, false, err
		}
		if tok, at, err = p.token(); err != nil {
			return e, false, err
		}
	}
	if e.key, err = p.key(tok, at); err != nil {
		return e, false, err
	}
	return e, true, nil
}

// principals parses the first field: comma-separated patterns, optionally in quotes.
func (p *lineParser) principals() ([]string, error) {
	tok, at, err := p.token()
	if err != nil {
		return nil, err
	}
	if knownKeyType(tok) {
		return nil, p.errorf(at, "missing principals before the %s key", tok)
	}
	if strings.HasPrefix(tok, `"`) {
		if len(tok) < 2 || !strings.HasSuffix(tok, `"`) || strings.Count(tok, `"`) != 2 {
			return nil, p.errorf(at, "bad quoting in principals %s", tok)
		}
		tok, at = tok[1:len(tok)-1], at+1
	} else if strings.Contains(tok, `"`) {
		return nil, p.errorf(at, "stray quote in principals %s", tok)
	}
	list := strings.Split(tok, ",")
	for i, pat := range list {
		if strings.TrimPrefix(pat, "!") == "" {
			return nil, p.errorf(at, "empty principal in %q", tok)
		}
		at += len(list[i]) + 1
	}
	return list, nil
}

// key parses "keytype base64" starting at the token typ (offset at); the rest of the line
// is a comment.
func (p *lineParser) key(typ string, at int) (ssh.PublicKey, error) {
	if typ == "" {
		return nil, p.errorf(at, "missing public key")
	}
	if !knownKeyType(typ) {
		return nil, p.errorf(at, "unknown key type %q", typ)
	}
	b64, b64At, err := p.token()
	if err != nil {
		return nil, err
	}
	if b64 == "" {
		return nil, p.errorf(b64At, "missing base64 key after %s", typ)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, p.errorf(b64At, "bad base64 key: %v", err)
	}
	key, err := ssh.ParsePublicKey(raw)
	if err != nil {
		return nil, p.errorf(b64At, "bad %s key: %v", typ, err)
	}
	if key.Type() != typ {
		return nil, p.errorf(b64At, "key is %s, but the line says %s", key.Type(), typ)
	}
	if _, isCert := key.(*ssh.Certificate); isCert {
		return nil, p.errorf(at, "a certificate cannot be listed: list its CA's key with cert-authority")
	}
	return key, nil
}
