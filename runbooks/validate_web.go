package runbooks

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Checks of the web metrics provider (activities/metrics/web), which GETs
// JSON from the host of its url option. The provider checks all of this
// again when it runs; these checks say it at the line to fix, and refuse
// early a query that would send the provider's headers to another host.

// webHeaderPrefix starts the web provider's header options (headers.NAME).
const webHeaderPrefix = "headers."

// webMaxTimeout is the web provider's longest request timeout.
const webMaxTimeout = time.Minute

// webOptions checks the web provider's options: url, timeout, headers.NAME.
func (v *validator) webOptions(path string, opts map[string]string) {
	up := path + ".url"
	if raw, ok := opts["url"]; !ok || strings.TrimSpace(raw) == "" {
		v.errf(up, "the web provider needs option url, the base URL its queries read from, e.g. url: \"https://slo.internal/\"")
	} else if u, err := url.Parse(withPlaceholders(raw)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// optionValues reports a bad or refused http(s) URL already.
		if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
			v.errf(up, "web provider url %q must be absolute, starting with http:// or https://", raw)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		p, val := join(path, k), opts[k]
		name, isHeader := strings.CutPrefix(k, webHeaderPrefix)
		switch {
		case k == "url":
		case k == "timeout":
			if d, err := time.ParseDuration(val); err != nil || d <= 0 || d > webMaxTimeout {
				v.errf(p, "web provider timeout %q must be a duration from 1ms to 1m, e.g. 5s", val)
			}
		case isHeader && (!headerNameRe.MatchString(name) || strings.EqualFold(name, "Host")):
			v.c.addf(v.keyAt(p), "%q does not name a header the web provider can send; write headers.NAME, e.g. headers.Authorization (Host is the url's)", k)
		case isHeader:
			if env, ok := strings.CutPrefix(val, "env:"); ok && !envNameRe.MatchString(env) {
				v.errf(p, "header %q: %q is not an environment variable name; write env:NAME with letters, digits and underscores", name, env)
			}
		default:
			v.c.addf(v.keyAt(p), "web provider option %q is not known; use url, timeout or headers.NAME (e.g. headers.Authorization: env:SLO_TOKEN)", k)
		}
	}
}

// webSLO checks an SLO read through the web provider: its query or
// compare.query is a URL on the provider's host, a space and a JSON path.
// Built-in kinds read templates, which the template checks cover.
func (v *validator) webSLO(path string, s *SLO, base string) {
	if p := path + ".query"; v.set(p) && strings.TrimSpace(s.Query) != "" {
		v.webQuery(p, "query", s.Query, base)
	}
	if p := path + ".compare.query"; s.Compare != nil && v.set(p) && strings.TrimSpace(s.Compare.Query) != "" {
		v.webQuery(p, "compare.query", s.Compare.Query, base)
		if _, jp, _ := strings.Cut(strings.TrimSpace(s.Compare.Query), " "); !strings.Contains(jp, "[*]") {
			v.errf(p, "compare.query's JSON path %q selects one value; compare needs a list of observations, so end it in a list with [*], e.g. $.data.points[*]", strings.TrimSpace(jp))
		}
	}
}

// webQuery checks the form of one web query and that an absolute URL in it
// stays on the base URL's scheme and host.
func (v *validator) webQuery(path, what, q, base string) {
	target, jp, ok := strings.Cut(strings.TrimSpace(q), " ")
	if jp = strings.TrimSpace(jp); !ok || !strings.HasPrefix(jp, "$") {
		v.errf(path, "%s %q must be a URL, a space and a JSON path starting with $, e.g. \"/api/slo?slot=${slot} $.data.errorRate\"", what, q)
		return
	}
	ref, err := url.Parse(withPlaceholders(target))
	if err != nil || base == "" {
		return // the provider reports a bad URL; a missing url option is reported on it
	}
	b, err := url.Parse(withPlaceholders(base))
	if err != nil {
		return
	}
	if u := b.ResolveReference(ref); !strings.EqualFold(u.Scheme, b.Scheme) || !strings.EqualFold(u.Host, b.Host) {
		v.errf(path, "%s reads from %s://%s, but the web provider only reads from its url's host %s://%s (its headers may hold credentials); write a path such as /api/slo, or change url", what, u.Scheme, u.Host, b.Scheme, b.Host)
	}
}

// webTemplates checks the queries of the templates written at path, like
// an SLO's query: each stays on the provider's host.
func (v *validator) webTemplates(path string, ts map[string]MetricTemplate, base string) {
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		t := ts[name]
		for _, f := range []struct{ key, q string }{{"bad", t.Bad}, {"good", t.Good}, {"total", t.Total},
			{"quantile", t.Quantile}, {"value", t.Value}, {"count", t.Count}} {
			if p := join(join(path, name), f.key); v.set(p) && strings.TrimSpace(f.q) != "" {
				v.webQuery(p, f.key, f.q, base)
			}
		}
	}
}
