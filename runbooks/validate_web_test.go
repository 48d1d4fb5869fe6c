package runbooks

import (
	"strings"
	"testing"
)

// webRunbook reads its SLOs from a web metrics provider; %s are its options
// and its slos.
const webRunbook = `api-version: runbook/v1
service: shop
owner: team
artifact: {reference: file:///tmp/a, digest: sha256:0000000000000000000000000000000000000000000000000000000000000000}
environments:
  - name: production
    traffic: {provider: edge, slots: {blue: {}, green: {}}}
    metrics:
      provider: web
      options: {%s}
    slos:
%s    steps:
      - name: shift
        all-at-once: {}
`

const webOK = `url: "https://slo.internal:8443/api/", headers.Authorization: env:SLO_TOKEN, timeout: 5s`

func webSrc(opts string, slos ...string) string {
	return strings.NewReplacer("{%s}", "{"+opts+"}", "%s    steps", strings.Join(slos, "")+"    steps").Replace(webRunbook)
}

func TestWebMetricsValid(t *testing.T) {
	src := webSrc(webOK,
		"      - {name: errors, query: \"/api/slo?service=${service}&slot=${slot}&window=$window $.data.errorRate\", max: 0.01}\n",
		"      - {name: relative, query: \"slo?slot=${slot} $.data['p99']\", max: 0.3}\n",
		"      - {name: absolute, query: \"https://slo.internal:8443/api/slo?slot=${slot} $.v\", max: 1}\n",
		"      - {name: versus, compare: {query: \"/api/points?slot=${slot} $.points[*].v\"}}\n")
	if _, err := Parse("rb.yaml", []byte(src)); err != nil {
		t.Fatalf("a valid web runbook: %v", err)
	}
}

func TestWebMetricsProblems(t *testing.T) {
	slo := "      - {name: errors, query: \"/slo?slot=${slot} $.v\", max: 1}\n"
	for _, c := range []struct {
		name, opts string
		slos       []string
		want       string
	}{
		{"no url", `timeout: 5s`, []string{slo}, "rb.yaml:10:16: the web provider needs option url"},
		{"metadata url", `url: "http://169.254.169.254/"`, []string{slo}, `rb.yaml:10:22: metrics option url "http://169.254.169.254/" is refused`},
		{"relative url", `url: /api`, []string{slo}, `rb.yaml:10:22: web provider url "/api" must be absolute`},
		{"unknown option", webOK + `, token: env:SLO_TOKEN`, []string{slo}, `web provider option "token" is not known; use url, timeout or headers.NAME`},
		{"bad timeout", `url: "http://127.0.0.1/", timeout: 2h`, []string{slo}, `web provider timeout "2h" must be a duration from 1ms to 1m`},
		{"host header", `url: "http://127.0.0.1/", headers.Host: x`, []string{slo}, `"headers.Host" does not name a header the web provider can send`},
		{"literal credential", `url: "http://127.0.0.1/", headers.Authorization: "Bearer abc"`, []string{slo}, `metrics option "headers.Authorization" holds a credential, written here as a literal value`},
		{"worker's own secret", `url: "http://127.0.0.1/", headers.X-Token: env:AWS_SECRET_ACCESS_KEY`, []string{slo}, "env:AWS_SECRET_ACCESS_KEY is never readable by a runbook"},
		{"error-ratio", webOK, []string{"      - {name: errors, error-ratio: 0.01}\n"}, `rb.yaml:12:24: error-ratio reads the metric template "error-ratio", which environment "production" does not have: no preset covers router edge with metrics web`},
		{"burn-rate", webOK, []string{"      - {name: budget, burn-rate: {target: 0.999, long-window: 1h, threshold: 14.4}}\n"}, `rb.yaml:12:24: burn-rate reads the metric template "error-ratio"`},
		{"no path", webOK, []string{"      - {name: errors, query: \"/slo?slot=${slot}\", max: 1}\n"}, `rb.yaml:12:31: query "/slo?slot=${slot}" must be a URL, a space and a JSON path starting with $`},
		{"another host", webOK, []string{"      - {name: errors, query: \"https://evil.example/slo $.v\", max: 1}\n"}, "query reads from https://evil.example, but the web provider only reads from its url's host https://slo.internal:8443"},
		{"scheme-relative host", webOK, []string{"      - {name: errors, query: \"//evil.example/slo $.v\", max: 1}\n"}, "query reads from https://evil.example"},
		{"another port", webOK, []string{"      - {name: errors, query: \"https://slo.internal/slo $.v\", max: 1}\n"}, "query reads from https://slo.internal, but"},
		{"compare of one value", webOK, []string{"      - {name: versus, compare: {query: \"/p?slot=${slot} $.p50\"}}\n"}, `compare.query's JSON path "$.p50" selects one value`},
		{"template to another host", webOK + "}\n      templates: {t: {value: \"https://evil.example/x $.v\"}", []string{"      - {name: t, template: t, max: 1}\n"}, "value reads from https://evil.example, but"},
		{"compare to another host", webOK, []string{"      - {name: versus, compare: {query: \"http://slo.internal:8443/p?slot=${slot} $.p[*]\"}}\n"}, "compare.query reads from http://slo.internal:8443, but"},
	} {
		_, err := Parse("rb.yaml", []byte(webSrc(c.opts, c.slos...)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant a problem containing %q", c.name, err, c.want)
		}
	}
}
