package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/testenv/dns"
)

const secret = "s3cr3t-Value-42"

// recorder is an API server that answers fixed JSON per path and records
// what it was sent.
type recorder struct {
	mu      sync.Mutex
	bodies  map[string]string
	status  map[string]int
	got     []*http.Request
	srv     *httptest.Server
	handler http.HandlerFunc
}

func newRecorder(t *testing.T, bodies map[string]string) *recorder {
	t.Helper()
	r := &recorder{bodies: bodies, status: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.got = append(r.got, req.Clone(context.Background()))
		body, ok := r.bodies[req.URL.Path]
		code := r.status[req.URL.Path]
		h := r.handler
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		if !ok {
			http.NotFound(w, req)
			return
		}
		if code != 0 {
			w.WriteHeader(code)
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func allowSecret(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "WEB_TEST_*")
	t.Setenv("WEB_TEST_TOKEN", secret)
}

func mustNew(t *testing.T, opts map[string]string) *Provider {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJSONShapes(t *testing.T) {
	api := newRecorder(t, map[string]string{
		"/slo":    `{"data":{"errorRate":0.0125,"p99":"0.250","list":[{"b":3}],"odd key":{"x":7}}}`,
		"/points": `{"series":[{"pointlist":[[1,0.1],[2,"0.2"],[3,null],[4,0.4]]}],"values":[1,"2",null,"NaN",5]}`,
		"/top":    `[4.5]`,
	})
	p := mustNew(t, map[string]string{"url": api.srv.URL})
	ctx := context.Background()
	for q, want := range map[string]float64{
		"/slo $.data.errorRate":           0.0125,
		"/slo $.data.p99":                 0.25,
		"/slo $.data.list[0].b":           3,
		`/slo $.data["odd key"].x`:        7,
		`/slo $['data']['errorRate']`:     0.0125,
		"slo?service=checkout $.data.p99": 0.25,
		"/top $[0]":                       4.5,
	} {
		s, err := p.Query(ctx, metrics.Query{Expr: q})
		if err != nil || s.Value != want || s.Values != nil || s.At.IsZero() {
			t.Errorf("%s = %+v, %v; want Value %g and no Values", q, s, err, want)
		}
	}
	for q, want := range map[string][]float64{
		"/points $.series[0].pointlist[*][1]": {0.1, 0.2, 0.4},
		"/points $.values[*]":                 {1, 2, 5},
	} {
		s, err := p.Query(ctx, metrics.Query{Expr: q, Step: 5 * time.Second})
		if err != nil || !slices.Equal(s.Values, want) || s.Value != want[len(want)-1] {
			t.Errorf("%s = %+v, %v; want Values %v", q, s, err, want)
		}
	}
}

// Missing data is inconclusive, never a pass; a path that does not fit the
// document, or a non-number, is an error.
func TestMissingDataIsInconclusive(t *testing.T) {
	api := newRecorder(t, map[string]string{
		"/slo": `{"data":{"errorRate":null,"nan":"NaN","obj":{"a":1},"flag":true,"word":"fast","empty":[],"nulls":[null],"text":"x"}}`,
	})
	p := mustNew(t, map[string]string{"url": api.srv.URL})
	ctx := context.Background()
	for _, path := range []string{"$.data.errorRate", "$.data.nan", "$.data.missing", "$.data.errorRate.x", "$.nope[3]", "$.data.empty[*]", "$.data.nulls[*]", "$.data.empty[0]"} {
		_, err := p.Query(ctx, metrics.Query{Expr: "/slo " + path})
		if !errors.Is(err, metrics.ErrInconclusive) {
			t.Errorf("%s: %v, want inconclusive", path, err)
		}
	}
	for path, want := range map[string]string{
		"$.data.obj": "an object, not a number", "$.data.flag": "a boolean, not a number", "$.data.word": `"fast" is not a number`,
		"$.data[0]": "needs an array, found an object", "$.data.text.x": "needs an object, found a string", "$.data.obj[*]": "[*] needs an array",
	} {
		_, err := p.Query(ctx, metrics.Query{Expr: "/slo " + path})
		if err == nil || errors.Is(err, metrics.ErrInconclusive) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", path, err, want)
		}
	}
}

func TestWindowIsSecondsAfterClamp(t *testing.T) {
	api := newRecorder(t, map[string]string{"/slo": `{"v":1}`})
	p := mustNew(t, map[string]string{"url": api.srv.URL + "/base/"})
	ctx := context.Background()
	// Since cuts the 10m window to what has passed since it: about 6 minutes.
	since := time.Now().Add(-6*time.Minute - 500*time.Millisecond)
	if _, err := p.Query(ctx, metrics.Query{Expr: "/slo?w=$window $.v", Window: 10 * time.Minute, Since: since}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Query(ctx, metrics.Query{Expr: "/slo?w=$window $.v", Window: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got := api.requests()
	if len(got) != 2 || got[0].URL.RawQuery != "w=360" || got[1].URL.RawQuery != "w=90" {
		t.Fatalf("requests %v, want w=360 then w=90", urls(got))
	}
	if _, err := p.Query(ctx, metrics.Query{Expr: "/slo?w=$window $.v"}); err == nil || !strings.Contains(err.Error(), "window is not set") {
		t.Errorf("no window: %v", err)
	}
	_, err := p.Query(ctx, metrics.Query{Expr: "/slo $.v", Window: 10 * time.Minute, Since: time.Now().Add(-time.Minute)})
	if !errors.Is(err, metrics.ErrInconclusive) {
		t.Errorf("a minute of a 10m window: %v, want inconclusive", err)
	}
	// A relative path keeps the base path; an absolute one replaces it.
	if _, err := p.Query(ctx, metrics.Query{Expr: "slo $.v"}); err == nil || !strings.Contains(err.Error(), "/base/slo: HTTP 404") {
		t.Errorf("relative path: %v, want a 404 for /base/slo", err)
	}
}

func urls(rs []*http.Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.URL.String())
	}
	return out
}

func TestNon2xxQuotesABoundedMaskedBody(t *testing.T) {
	allowSecret(t)
	api := newRecorder(t, map[string]string{})
	api.handler = func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "token %s rejected; %s", r.Header.Get("X-Api-Key"), strings.Repeat("x", 1000))
	}
	p := mustNew(t, map[string]string{"url": api.srv.URL, "headers.X-Api-Key": "env:WEB_TEST_TOKEN"})
	_, err := p.Query(context.Background(), metrics.Query{Expr: "/slo $.v"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("err = %v, want HTTP 401 and the body's start", err)
	}
	if strings.Contains(err.Error(), secret) || len(err.Error()) > 400 {
		t.Errorf("error echoes the header value or is unbounded (%d bytes): %v", len(err.Error()), err)
	}
	api.handler = func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>ok</html>") }
	if _, err := p.Query(context.Background(), metrics.Query{Expr: "/slo $.v"}); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("HTML answer: %v", err)
	}
}

// The header secret goes to the base host only: an absolute URL to another
// host and a redirect there are both refused before anything reaches it.
func TestSecretHeaderStaysOnTheBaseHost(t *testing.T) {
	allowSecret(t)
	other := newRecorder(t, map[string]string{"/slo": `{"v":1}`})
	api := newRecorder(t, map[string]string{"/slo": `{"v":1}`})
	api.handler = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.srv.URL+"/slo", http.StatusFound)
			return
		}
		fmt.Fprint(w, `{"v":2}`)
	}
	p := mustNew(t, map[string]string{"url": api.srv.URL, "headers.X-Api-Key": "env:WEB_TEST_TOKEN", "headers.Accept-Language": "en", "timeout": "5s"})
	ctx := context.Background()
	s, err := p.Query(ctx, metrics.Query{Expr: api.srv.URL + "/slo $.v"})
	if err != nil || s.Value != 2 {
		t.Fatalf("absolute URL on the base host: %+v, %v", s, err)
	}
	got := api.requests()
	if len(got) != 1 || got[0].Header.Get("X-Api-Key") != secret || got[0].Header.Get("Accept-Language") != "en" {
		t.Fatalf("base host got %d requests, headers %v", len(got), got[0].Header)
	}
	otherHost := strings.Replace(other.srv.URL, "127.0.0.1", "localhost", 1)
	for _, q := range []string{other.srv.URL + "/slo $.v", "//" + strings.TrimPrefix(other.srv.URL, "http://") + "/slo $.v",
		otherHost + "/slo $.v", strings.Replace(api.srv.URL, "http:", "https:", 1) + "/slo $.v", "/away $.v"} {
		_, err := p.Query(ctx, metrics.Query{Expr: q})
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: %v, want refused", q, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error holds the secret: %v", q, err)
		}
	}
	if n := len(other.requests()); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

func TestMetadataAddressRefused(t *testing.T) {
	for _, u := range []string{"http://169.254.169.254/", "http://0xa9fea9fe/", "http://metadata.google.internal/"} {
		if _, err := New(map[string]string{"url": u}); !errors.Is(err, netguard.ErrBlocked) {
			t.Errorf("New(%s): %v, want ErrBlocked", u, err)
		}
	}
	// A name that resolves to the metadata address is refused when dialling.
	r := dns.Resolver(t, map[string]string{"rebind.runbook.test": "169.254.169.254"})
	p, err := newProvider(map[string]string{"url": "http://rebind.runbook.test:8080/"}, r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Query(context.Background(), metrics.Query{Expr: "/latest/meta-data/ $.v"})
	if !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("a name resolving to 169.254.169.254: %v, want ErrBlocked", err)
	}
}

func TestOptions(t *testing.T) {
	allowSecret(t)
	for name, opts := range map[string]map[string]string{
		"no url":           {},
		"relative url":     {"url": "/api"},
		"ftp url":          {"url": "ftp://127.0.0.1/"},
		"user in url":      {"url": "http://u:p@127.0.0.1/"},
		"unknown option":   {"url": "http://127.0.0.1/", "token": "env:WEB_TEST_TOKEN"},
		"bad timeout":      {"url": "http://127.0.0.1/", "timeout": "ten"},
		"long timeout":     {"url": "http://127.0.0.1/", "timeout": "2h"},
		"host header":      {"url": "http://127.0.0.1/", "headers.Host": "evil.example"},
		"empty header":     {"url": "http://127.0.0.1/", "headers.": "x"},
		"unset variable":   {"url": "http://127.0.0.1/", "headers.X-Api-Key": "env:WEB_TEST_UNSET"},
		"refused variable": {"url": "http://127.0.0.1/", "headers.X-Api-Key": "env:RUNBOOK_AUDIT_DSN"},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error holds the secret: %v", name, err)
		}
	}
	p := mustNew(t, map[string]string{"url": "http://127.0.0.1/", "timeout": "2s"})
	if p.client.Timeout != 2*time.Second {
		t.Errorf("timeout = %s", p.client.Timeout)
	}
}

func TestParseQueryAndPath(t *testing.T) {
	for _, q := range []string{"", "/slo", "$.v", "/slo v", "/slo $.", "/slo $.a[", "/slo $.a[-1]", "/slo $.a[x]", "/slo $[*][*]", `/slo $["a]`, "/slo $a"} {
		if _, _, err := ParseQuery(q); err == nil {
			t.Errorf("ParseQuery(%q): no error", q)
		}
	}
	target, path, err := ParseQuery(`  /api/slo?slot=blue   $.data["a.b"][2]['c']  `)
	if err != nil || target != "/api/slo?slot=blue" || path.String() != `$.data["a.b"][2]['c']` {
		t.Errorf("ParseQuery = %q, %+v, %v", target, path, err)
	}
}

// One check through the real Measure activity, built by a factory table as
// the worker builds it: a query SLO and a compare of two slots.
func TestThroughMeasure(t *testing.T) {
	allowSecret(t)
	api := newRecorder(t, map[string]string{})
	api.handler = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != secret {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		slot := r.URL.Query().Get("slot")
		switch r.URL.Path {
		case "/ratio":
			fmt.Fprintf(w, `{"data":{"errorRate":%q}}`, map[string]string{"green": "0.2", "blue": "0.001"}[slot])
		case "/latency":
			base := map[string]float64{"green": 0.5, "blue": 0.1}[slot]
			var pts []string
			for i := range 12 {
				pts = append(pts, fmt.Sprint(base+float64(i)/1000))
			}
			fmt.Fprintf(w, `{"points":[%s]}`, strings.Join(pts, ","))
		}
	}
	opts := map[string]string{"url": api.srv.URL, "headers.Authorization": "env:WEB_TEST_TOKEN"}
	a := &metrics.Activities{Factories: metrics.Factories{Name: metrics.FactoryOf(New)}}
	check := func(kind, slot string) metrics.Check {
		c := metrics.Check{Name: kind, Kind: kind, Provider: Name, Options: opts, Max: 0.01}
		c.Query = metrics.Query{Expr: "/ratio?slot=" + slot + " $.data.errorRate", Window: time.Minute}
		if kind == metrics.KindCompare {
			c.Query = metrics.Query{Expr: "/latency?slot=" + slot + " $.points[*]", Window: time.Minute, Step: 5 * time.Second}
			c.Baseline = c.Query
			c.Baseline.Expr = "/latency?slot=blue $.points[*]"
		}
		return c
	}
	res, err := a.Measure(context.Background(), metrics.MeasureInput{Round: 1, Checks: []metrics.Check{
		check(metrics.KindQuery, "blue"), check(metrics.KindQuery, "green"), check(metrics.KindCompare, "green"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var verdicts []metrics.Verdict
	for _, m := range res.Measurements {
		verdicts = append(verdicts, m.Verdict)
	}
	if want := []metrics.Verdict{metrics.Pass, metrics.Fail, metrics.Fail}; !slices.Equal(verdicts, want) {
		t.Fatalf("verdicts %v, want %v (measurements %+v)", verdicts, want, res.Measurements)
	}
	if res.Measurements[1].Value != 0.2 || len(res.Measurements[2].CanarySamples) != 12 {
		t.Errorf("measurements %+v", res.Measurements)
	}
}
