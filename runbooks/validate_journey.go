package runbooks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/jsonpath"
)

// Checks of journey steps: each request as an http-check's, plus its
// expectations, what it extracts, and that every ${journey.NAME} is
// extracted by a request before the one that uses it.

// journeyMethods are the methods a journey's requests may use. Every
// request carries an idempotency key, so a journey that creates something
// and deletes it again may be retried as a whole.
var journeyMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// journey checks a journey step.
func (v *validator) journey(path string, j *JourneyStep) {
	p := path + ".requests"
	if v.ok(p) && len(j.Requests) == 0 {
		v.errf(p, "a journey needs at least one request; add requests: [{name: ..., url: ...}]")
	}
	names := map[string]pos{}
	extracted := map[string]string{} // value name -> request that extracts it
	for i := range j.Requests {
		rp := fmt.Sprintf("%s[%d]", p, i)
		if !v.ok(rp) {
			continue
		}
		r := &j.Requests[i]
		v.name(rp+".name", "request name", r.Name)
		if at, dup := names[r.Name]; dup && r.Name != "" {
			v.errf(rp+".name", "request name %q is already used at line %d; the requests of a journey need distinct names", r.Name, at.line)
		} else if r.Name != "" {
			names[r.Name] = v.valAt(rp + ".name")
		}
		v.request(rp, request{what: "journey request", url: r.URL, method: r.Method, defaultMethod: "GET",
			methods: journeyMethods, body: r.Body, headers: journeyHeaders(r.Headers), status: r.ExpectStatus})
		v.journeyRefs(rp, r, extracted)
		v.expectJSON(rp+".expect-json", r.ExpectJSON)
		for _, name := range v.extract(rp+".extract", r.Extract) {
			if _, dup := extracted[name]; !dup {
				extracted[name] = r.Name
			}
		}
	}
	if j.Timeout > 0 && j.Deadline > 0 && j.Timeout > j.Deadline {
		v.errf(path+".timeout", "timeout %s is longer than deadline %s; a request could outlive the whole journey, so lower the timeout or raise the deadline", j.Timeout, j.Deadline)
	}
}

// journeyHeaders hides the ${journey.NAME} references from the literal
// secret check: "Bearer ${journey.token}" is how a token from a login
// request is sent, and its value is never in the runbook.
func journeyHeaders(hs map[string]string) map[string]string {
	out := make(map[string]string, len(hs))
	for k, val := range hs {
		for _, name := range prefixedRefs(val, VarJourneyPrefix) {
			val = strings.ReplaceAll(val, "${"+VarJourneyPrefix+name+"}", "")
		}
		if strings.TrimSpace(val) == "" || isAuthScheme(val) {
			val = ""
		}
		out[k] = val
	}
	return out
}

// isAuthScheme reports whether what is left of a header value is only an
// authentication scheme word such as Bearer, Basic or Token.
func isAuthScheme(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) <= 16 && strings.IndexFunc(s, func(r rune) bool {
		return (r < 'A' || r > 'Z') && (r < 'a' || r > 'z')
	}) < 0
}

// journeyRefs refuses a ${journey.NAME} that no earlier request extracts,
// at the text that uses it.
func (v *validator) journeyRefs(path string, r *JourneyRequest, extracted map[string]string) {
	for _, t := range r.JourneyTexts() {
		for _, name := range prefixedRefs(t[1], VarJourneyPrefix) {
			if _, ok := extracted[name]; ok || !outputNameRe.MatchString(name) {
				continue
			}
			p := join(path, t[0])
			if _, self := r.Extract[name]; self {
				v.errf(p, "${journey.%s} is extracted by this request's own answer, which comes after it is sent; use it in a later request", name)
			} else {
				v.errf(p, "${journey.%s} is not extracted by any request before %s; add extract: {%s: $.path} to an earlier request", name, called("request", r.Name), name)
			}
		}
	}
}

// expectJSON checks each JSON path of expect-json selects one value.
func (v *validator) expectJSON(path string, want map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if msg := onePath(k); msg != "" {
			v.c.addf(v.keyAt(join(path, k)), "expect-json: %s", msg)
		}
	}
}

// extract checks each extraction and returns the names it defines.
func (v *validator) extract(path string, ex map[string]string) []string {
	var names []string
	for _, name := range slices.Sorted(maps.Keys(ex)) {
		p := join(path, name)
		if !outputNameRe.MatchString(name) {
			v.c.addf(v.keyAt(p), "extract name %q: use letters, digits, _ and -, starting with a letter or _; later requests use it as ${journey.NAME}", name)
			continue
		}
		names = append(names, name)
		src := ex[name]
		if h, ok := strings.CutPrefix(src, HeaderPrefix); ok {
			if !headerNameRe.MatchString(h) {
				v.errf(p, "extract %s: %q is not a header name; write header:Location", name, h)
			}
			continue
		}
		if msg := onePath(src); msg != "" {
			v.errf(p, "extract %s: %s, or header:Name for a response header", name, msg)
		}
	}
	return names
}

// onePath explains why raw is not a JSON path selecting one value, "" when it is.
func onePath(raw string) string {
	jp, err := jsonpath.Parse(raw)
	switch {
	case err != nil:
		return err.Error()
	case jp.Wildcard():
		return fmt.Sprintf("JSON path %q selects a list ([*]); name one element, e.g. [0]", raw)
	}
	return ""
}
