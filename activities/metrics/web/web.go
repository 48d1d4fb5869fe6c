// Package web is the generic HTTP JSON metrics provider (like Argo Rollouts'
// web metric): it GETs a URL on one configured host and reads a number, or a
// list of numbers, out of the JSON answer with a JSONPath-like expression.
//
// Options (a runbook's metrics.options):
//
//	url            base URL, e.g. https://slo.internal:8443/ (required)
//	headers.NAME   a request header, e.g. headers.Authorization: env:SLO_TOKEN;
//	               credentials only as env:NAME references (resolved in the
//	               activity through secretref, never in history)
//	timeout        per request, a Go duration (default 10s, at most 1m)
//
// A query (an SLO's query, or compare.query) is the URL to GET, a space, and
// the JSON path of the value:
//
//	/api/slo?service=${service}&slot=${slot}&window=$window $.data.errorRate
//
// The URL is resolved against the base URL (RFC 3986: "/x" replaces the base
// path, "x" is relative to it); an absolute URL must name the base URL's
// scheme and host, so a runbook can never make the worker send the headers
// elsewhere, and redirects off that host are refused too. $window in the
// URL (${window} in a metric template) is replaced by the measurement
// window in whole seconds (after metrics.Query.Clamp cuts it at the bake's
// start), e.g. 300.
//
// The path is $ followed by .name, ["name"] or ['name'], [N] and at most one
// [*]. With [*] (e.g. $.points[*].v) every number is a Sample value, as
// compare needs; Value is the last one. Numbers may be JSON numbers or
// numeric strings. null, NaN, a missing member or index, or a list with no
// numbers is inconclusive (never a pass); any other type is an error, and so
// is a non-2xx answer (with its status and the start of its body, header
// values masked).
//
// worker/providers.go lists it as "web".
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/jsonpath"
	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/scrub"
)

// Name is the provider's name in runbooks (its key in worker/providers.go).
const Name = "web"

// WindowPlaceholder in a query's URL is replaced by the window in seconds.
// It is written like prometheus's, without braces: ${...} is the runbook's
// own variable syntax, which the workflow expands before the provider runs.
const WindowPlaceholder = "$window"

// TemplateWindow is the metric templates' spelling of the same placeholder.
const TemplateWindow = "${window}"

// HeaderPrefix starts the options that set request headers.
const HeaderPrefix = "headers."

const (
	defaultTimeout = 10 * time.Second
	maxTimeout     = time.Minute
	// maxBody bounds what is read of an answer: a check reads one number.
	maxBody = 4 << 20
	// excerptLen bounds the body quoted in an error.
	excerptLen = 200
)

// Provider GETs JSON from one host.
type Provider struct {
	base    *url.URL
	header  http.Header
	secrets []string // resolved header values, masked in errors
	client  *http.Client
}

// New builds a provider from its options (see the package doc).
func New(opts map[string]string) (*Provider, error) {
	return newProvider(opts, nil)
}

// newProvider builds a provider whose dialer resolves names with r (nil: the
// system's resolver); tests point r at a DNS server of their own.
func newProvider(opts map[string]string, r *net.Resolver) (*Provider, error) {
	base, err := baseURL(opts["url"])
	if err != nil {
		return nil, err
	}
	timeout := defaultTimeout
	p := &Provider{base: base, header: http.Header{}}
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		switch name, isHeader := strings.CutPrefix(k, HeaderPrefix); {
		case k == "url":
		case k == "timeout":
			if timeout, err = parseTimeout(opts[k]); err != nil {
				return nil, err
			}
		case isHeader:
			if err := p.setHeader(name, opts[k]); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("web provider: unknown option %q (known: url, timeout, %sNAME)", k, HeaderPrefix)
		}
	}
	p.header.Set("Accept", "application/json")
	// The guarded transport refuses link-local and metadata addresses after
	// DNS resolution; redirects may not leave the base host.
	p.client = &http.Client{Transport: netguard.Transport(r), CheckRedirect: p.checkRedirect, Timeout: timeout}
	return p, nil
}

// baseURL checks the url option: absolute http(s), no credentials in it,
// not a metadata host as written.
func baseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("web provider needs option url, the base URL its queries are read from (e.g. http://127.0.0.1:8080/)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("web provider url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("web provider url %q must be absolute http:// or https://", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("web provider url %q has credentials in it; send them in a header option written env:NAME", u.Redacted())
	}
	if err := metrics.CheckURL(raw); err != nil {
		return nil, fmt.Errorf("web provider url: %w", err)
	}
	return u, nil
}

func parseTimeout(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > maxTimeout {
		return 0, fmt.Errorf("web provider timeout %q must be a duration from 1ms to %s, e.g. 5s", v, maxTimeout)
	}
	return d, nil
}

// setHeader resolves a header option. Errors name the header, never its value.
func (p *Provider) setHeader(name, ref string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n:") {
		return fmt.Errorf("web provider: %q is not a header option; write %sNAME, e.g. %sAuthorization", HeaderPrefix+name, HeaderPrefix, HeaderPrefix)
	}
	if http.CanonicalHeaderKey(name) == "Host" {
		return errors.New("web provider: the Host header is the base URL's; set url instead")
	}
	v, err := metrics.Secret(ref)
	if err != nil {
		return fmt.Errorf("web provider header %s: %w", name, err)
	}
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("web provider header %s: the value has a line break", name)
	}
	p.header.Set(name, v)
	if v != ref {
		p.secrets = append(p.secrets, v)
	}
	return nil
}

// checkRedirect follows a redirect only on the base URL's scheme and host:
// Go's client drops Authorization on a cross-host redirect, but not custom
// headers such as X-Api-Key.
func (p *Provider) checkRedirect(req *http.Request, via []*http.Request) error {
	if err := p.sameOrigin(req.URL); err != nil {
		return fmt.Errorf("redirect refused: %w", err)
	}
	return netguard.CheckRedirect(req, via)
}

func (p *Provider) sameOrigin(u *url.URL) error {
	if !strings.EqualFold(u.Scheme, p.base.Scheme) || !strings.EqualFold(u.Host, p.base.Host) {
		return fmt.Errorf("%s://%s is not the provider's host %s://%s; a query may only read from the url option's host", u.Scheme, u.Host, p.base.Scheme, p.base.Host)
	}
	return nil
}

// Query GETs the query's URL and selects its path (see the package doc).
func (p *Provider) Query(ctx context.Context, q metrics.Query) (metrics.Sample, error) {
	target, path, err := ParseQuery(q.Expr)
	if err != nil {
		return metrics.Sample{}, err
	}
	window, err := q.Clamp(time.Now())
	if err != nil {
		return metrics.Sample{}, err
	}
	if strings.Contains(target, WindowPlaceholder) || strings.Contains(target, TemplateWindow) {
		if window <= 0 {
			return metrics.Sample{}, fmt.Errorf("web query %q uses %s but the window is not set", q.Expr, WindowPlaceholder)
		}
		secs := strconv.FormatInt(int64(window/time.Second), 10)
		target = strings.ReplaceAll(strings.ReplaceAll(target, TemplateWindow, secs), WindowPlaceholder, secs)
	}
	u, err := p.resolve(target)
	if err != nil {
		return metrics.Sample{}, err
	}
	doc, err := p.get(ctx, u)
	if err != nil {
		return metrics.Sample{}, fmt.Errorf("web query GET %s: %w", u.Redacted(), err)
	}
	vals, err := path.Select(doc)
	if errors.Is(err, jsonpath.ErrMissing) {
		return metrics.Sample{}, metrics.Inconclusivef("web query GET %s: %s: %v", u.Redacted(), path, err)
	}
	if err != nil {
		return metrics.Sample{}, fmt.Errorf("web query GET %s: %s: %w", u.Redacted(), path, err)
	}
	s, err := sample(path, vals)
	if err != nil {
		return metrics.Sample{}, fmt.Errorf("web query GET %s: %w", u.Redacted(), err)
	}
	s.At = time.Now().UTC()
	return s, nil
}

// ParseQuery splits a query into its URL and its JSON path at the first
// space (a URL has none: spaces in it are written %20).
func ParseQuery(expr string) (string, jsonpath.Path, error) {
	target, rawPath, ok := strings.Cut(strings.TrimSpace(expr), " ")
	rawPath = strings.TrimSpace(rawPath)
	if !ok || target == "" || rawPath == "" {
		return "", jsonpath.Path{}, fmt.Errorf("web query %q must be a URL, a space and a JSON path, e.g. \"/api/slo?slot=${slot} $.data.errorRate\"", expr)
	}
	path, err := jsonpath.Parse(rawPath)
	if err != nil {
		return "", jsonpath.Path{}, err
	}
	return target, path, nil
}

// resolve makes target absolute against the base URL and refuses any other
// scheme or host.
func (p *Provider) resolve(target string) (*url.URL, error) {
	ref, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("web query URL %q: %w", target, err)
	}
	if ref.User != nil {
		return nil, fmt.Errorf("web query URL %q has credentials in it; set them as a header option", ref.Redacted())
	}
	u := p.base.ResolveReference(ref)
	if err := p.sameOrigin(u); err != nil {
		return nil, fmt.Errorf("web query URL %q refused: %w", ref.Redacted(), err)
	}
	return u, nil
}

// get fetches u and decodes its JSON body, numbers kept as written.
func (p *Provider) get(ctx context.Context, u *url.URL) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = p.header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.mask(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", p.mask(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, p.excerpt(body))
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("the answer is larger than %d MiB; query a narrower resource", maxBody>>20)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("HTTP %d, not JSON (%v): %s", resp.StatusCode, err, p.excerpt(body))
	}
	return doc, nil
}

// excerpt quotes the start of a body for an error, with the header values
// and anything else that looks like a credential masked: a server may echo
// a rejected token.
func (p *Provider) excerpt(body []byte) string {
	// Mask before cutting, so no secret is cut in half and half shown.
	s := scrub.Text(p.maskText(string(body)))
	if len(s) > excerptLen {
		s = s[:excerptLen] + "..."
	}
	return strconv.Quote(s)
}

func (p *Provider) maskText(s string) string {
	for _, v := range p.secrets {
		s = strings.ReplaceAll(s, v, scrub.Mask)
	}
	return s
}

// mask keeps header values out of transport errors.
func (p *Provider) mask(err error) error {
	if m := p.maskText(err.Error()); m != err.Error() {
		return errors.New(m)
	}
	return err
}
