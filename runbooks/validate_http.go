package runbooks

import (
	"errors"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Checks of the HTTP requests a runbook describes: http-check steps and
// on-rollback hooks.

var (
	// envNameRe is a portable environment variable name.
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// headerNameRe is an HTTP token (RFC 9110, section 5.6.2).
	headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// The methods each request may use. Checks may POST or PUT because the
// workflow sends an idempotency key with them; hooks undo things, so they
// may also DELETE.
var (
	checkMethods = []string{"GET", "HEAD", "POST", "PUT"}
	hookMethods  = []string{"POST", "PUT", "DELETE", "GET"}
)

// request is what http-check steps and rollback hooks have in common.
type request struct {
	what          string // how messages name it
	url, method   string
	defaultMethod string
	methods       []string
	body          string
	headers       map[string]string
	status        int
}

// request checks one HTTP request at path. Defaults (method, status 200)
// are applied by the workflow, so unset fields are fine here.
func (v *validator) request(path string, r request) {
	if v.required(path+".url", r.what+" url", r.url, "add the URL to call, e.g. url: http://127.0.0.1:8080/healthz") {
		v.httpURL(path+".url", "url", r.url)
	}
	if r.method != "" && !contains(r.methods, r.method) {
		v.errf(path+".method", "method %q is not supported for %s; use %s (in capitals)", r.method, r.what, orList(r.methods))
	}
	if m := orDefault(r.method, r.defaultMethod); r.body != "" && (m == "GET" || m == "HEAD") {
		v.errf(path+".body", "a body is not sent with %s; set method: POST (or PUT), or remove the body", m)
	}
	v.headers(path+".headers", r.headers)
	if v.set(path+".expect-status") && (r.status < 100 || r.status > 599) {
		v.errf(path+".expect-status", "expect-status %d is not an HTTP status; use a number from 100 to 599", r.status)
	}
}

// httpCheck checks an http-check step.
func (v *validator) httpCheck(path string, h *HTTPCheckStep) {
	v.request(path, request{what: "http-check", url: h.URL, method: h.Method, defaultMethod: "GET",
		methods: checkMethods, body: h.Body, headers: h.Headers, status: h.ExpectStatus})
	if h.Timeout > 0 && h.Deadline > 0 && h.Timeout > h.Deadline {
		v.errf(path+".timeout", "timeout %s is longer than deadline %s; an attempt could outlive the whole check, so lower the timeout or raise the deadline", h.Timeout, h.Deadline)
	}
}

// rollbackHook checks a step's on-rollback call. Gates register no
// compensation (there is nothing to undo), so a hook on one would never
// run; saying so beats ignoring it.
func (v *validator) rollbackHook(path string, s *Step) {
	p := path + ".on-rollback"
	if s.OnRollback == nil || !v.ok(p) {
		return
	}
	if s.Approval != nil {
		v.c.addf(v.keyAt(p), "on-rollback never runs on an approval step: a gate has nothing to undo; remove it or move it to the step it undoes")
	}
	h := s.OnRollback
	v.request(p, request{what: "on-rollback", url: h.URL, method: h.Method, defaultMethod: "POST",
		methods: hookMethods, body: h.Body, headers: h.Headers, status: h.ExpectStatus})
}

// httpURL checks an http(s) URL, with variables replaced by placeholders
// since their values are only known at release time.
func (v *validator) httpURL(path, what, raw string) {
	u, err := url.Parse(withPlaceholders(raw))
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
	default:
		v.urlHost(path, what, raw, u)
	}
}

// headers checks header names and values, in name order so the problems
// come out the same every time.
func (v *validator) headers(path string, hs map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(hs)) {
		p := join(path, k)
		if !headerNameRe.MatchString(k) {
			v.c.addf(v.keyAt(p), "header name %q is not valid; use letters, digits and dashes, e.g. Authorization", k)
		}
		val := hs[k]
		if strings.ContainsAny(val, "\r\n") {
			v.errf(p, "header %q must be on one line; remove the line breaks", k)
		}
		// env:NAME values are read from the worker's environment, so
		// secrets stay out of the runbook and the workflow history.
		if name, ok := strings.CutPrefix(val, "env:"); ok && !envNameRe.MatchString(name) {
			v.errf(p, "header %q: %q is not an environment variable name; write env:NAME with letters, digits and underscores", k, name)
		}
		v.neverEnv(p, val)
		v.literalSecret(p, "header", k, val)
	}
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
