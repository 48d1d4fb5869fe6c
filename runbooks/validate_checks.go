package runbooks

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

var (
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	schemeRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
)

// methods are the HTTP methods an http-check may use. POST and PUT are
// allowed because the workflow sends an idempotency key with them.
var methods = []string{"GET", "HEAD", "POST", "PUT"}

// set reports whether the field at path was written with a value of the
// right type (not left empty to take the default).
func (v *validator) set(path string) bool {
	return v.ok(path) && !v.locs[path].null
}

// artifact checks what is released. The digest may be left out here and
// given at deploy time, so only its form is checked.
func (v *validator) artifact(a Artifact) {
	if !v.has("artifact") {
		v.errf("artifact", "artifact is missing; add artifact: with a reference: (a local path, or a file:// or http(s):// URL)")
		return
	}
	if !v.ok("artifact") {
		return
	}
	const hint = "add where the artifact lives: a local path, or a file://, http:// or https:// URL"
	if v.required("artifact.reference", "artifact.reference", a.Reference, hint) {
		v.reference("artifact.reference", a.Reference)
	}
	if a.Digest != "" && !digestRe.MatchString(a.Digest) {
		v.errf("artifact.digest", "artifact.digest %q is not a digest; write sha256: followed by 64 lowercase hex digits, or leave it out and pass --digest at deploy time", a.Digest)
	}
}

// reference checks that the artifact is somewhere this version can read
// and verify: a path (resolved against the runbook's directory by the
// CLI), a file:// URL or an http(s):// URL.
func (v *validator) reference(path, ref string) {
	m := schemeRe.FindStringSubmatch(ref)
	if m == nil {
		return // a local path
	}
	switch scheme := strings.ToLower(m[1]); scheme {
	case "http", "https":
		v.httpURL(path, "artifact.reference", ref)
	case "file":
		u, err := url.Parse(Expand(ref, placeholders))
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			v.errf(path, "artifact.reference %q is not a usable file:// URL; write file:///absolute/path, or just the path", ref)
		}
	default:
		v.errf(path, "artifact.reference uses %s://, but only local paths, file:// and http(s):// artifacts can be verified in this version", scheme)
	}
}

// httpURL checks an http(s) URL, with variables replaced by placeholders
// since their values are only known at release time.
func (v *validator) httpURL(path, what, raw string) {
	u, err := url.Parse(Expand(raw, placeholders))
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		v.errf(path, "%s %q is not a valid URL: %v", what, raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		v.errf(path, "%s %q must start with http:// or https://", what, raw)
	case u.Hostname() == "":
		v.errf(path, "%s %q has no host; write it like http://127.0.0.1:8080/healthz", what, raw)
	}
}

// httpCheck checks an http-check step. Defaults (GET, 200, timeouts) are
// applied by the workflow, so unset fields are fine here.
func (v *validator) httpCheck(path string, h *HTTPCheckStep) {
	if v.required(path+".url", "http-check url", h.URL, "add the URL to poll, e.g. url: http://127.0.0.1:8080/healthz") {
		v.httpURL(path+".url", "url", h.URL)
	}
	if h.Method != "" && !contains(methods, h.Method) {
		v.errf(path+".method", "method %q is not supported; use GET, HEAD, POST or PUT (in capitals)", h.Method)
	}
	if h.Body != "" && (h.Method == "" || h.Method == "GET" || h.Method == "HEAD") {
		v.errf(path+".body", "a body is only sent with POST or PUT; set method: POST (or PUT), or remove the body")
	}
	v.headers(path+".headers", h.Headers)
	if v.set(path+".expect-status") && (h.ExpectStatus < 100 || h.ExpectStatus > 599) {
		v.errf(path+".expect-status", "expect-status %d is not an HTTP status; use a number from 100 to 599", h.ExpectStatus)
	}
	if h.Timeout > 0 && h.Deadline > 0 && h.Timeout > h.Deadline {
		v.errf(path+".timeout", "timeout %s is longer than deadline %s; an attempt could outlive the whole check, so lower the timeout or raise the deadline", h.Timeout, h.Deadline)
	}
}

// headers checks header names and values, in name order so the problems
// come out the same every time.
func (v *validator) headers(path string, hs map[string]string) {
	names := make([]string, 0, len(hs))
	for k := range hs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := join(path, k)
		if !headerNameRe.MatchString(k) {
			v.c.addf(v.keyAt(p), "header name %q is not valid; use letters, digits and dashes, e.g. Authorization", k)
		}
		if strings.ContainsAny(hs[k], "\r\n") {
			v.errf(p, "header %q must be on one line; remove the line breaks", k)
		}
	}
}

// headerNameRe is an HTTP token (RFC 9110, section 5.6.2).
var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// gate checks an environment approval gate.
func (v *validator) gate(path string, a *Approval) {
	v.name(path+".name", "approval gate name", a.Name)
	v.approvers(path, a.Approvers, a.MinApprovals)
}

// approvers checks who may approve and how many must: a gate that needs
// more distinct approvers than it lists could never pass.
func (v *validator) approvers(path string, list []string, minApprovals int) {
	seen := map[string]pos{}
	for i, a := range list {
		p := fmt.Sprintf("%s.approvers[%d]", path, i)
		if !v.ok(p) {
			continue
		}
		if strings.TrimSpace(a) == "" {
			v.errf(p, "approver is empty; write a user name")
			continue
		}
		if first, dup := seen[a]; dup {
			v.errf(p, "approver %q is listed twice; the first one is at line %d", a, first.line)
			continue
		}
		seen[a] = v.valAt(p)
	}
	mp := path + ".min-approvals"
	switch {
	case v.set(mp) && minApprovals < 1:
		v.errf(mp, "min-approvals must be at least 1; leave it out for the default of 1")
	case len(seen) > 0 && minApprovals > len(seen):
		v.errf(mp, "min-approvals is %d but only %d approvers are listed; the gate could never pass", minApprovals, len(seen))
	}
}
