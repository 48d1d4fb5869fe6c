package httpcheck

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/secretref"
	"github.com/runbookhq/runbook/internal/testenv/dns"
)

// Tests written as a runbook author would try to make the worker leak its
// secrets: by sending its variables to a URL they own, or by reading the
// cloud metadata service into workflow history.

// counting is a server that counts requests and answers body.
func counting(t *testing.T, body string) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	url := server(t, func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		fmt.Fprint(w, body)
	})
	return url, &n
}

func TestWorkerSecretsAreNeverSent(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "HTTPCHECK_TEST_*")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-leaked-slack")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "leaked-aws-secret")
	t.Setenv("RUNBOOK_AUDIT_DSN", "postgres://audit:leaked@127.0.0.1/audit")
	t.Setenv("HOME_SECRET", "leaked-unlisted")
	url, calls := counting(t, "ok")
	for _, name := range []string{"SLACK_BOT_TOKEN", "AWS_SECRET_ACCESS_KEY", "RUNBOOK_AUDIT_DSN", "RUNBOOK_EDGE_TOKEN", "HOME_SECRET"} {
		in := HTTPCheckInput{URL: url, Headers: map[string]string{"X-Exfil": "env:" + name}}
		_, err := (&Activities{}).HTTPCheck(t.Context(), in)
		ae := appErr(t, err, ErrTypeInvalid, true)
		if !strings.Contains(ae.Error(), name) || !strings.Contains(ae.Error(), secretref.AllowEnv) || strings.Contains(ae.Error(), "leaked") {
			t.Errorf("env:%s: %q; want a refusal naming the variable and %s, without its value", name, ae.Error(), secretref.AllowEnv)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the server received %d requests; a refused header must stop the request", n)
	}
}

func TestMetadataAddressRefusedAsWritten(t *testing.T) {
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://2852039166/latest/meta-data/", "http://0xa9fea9fe/", "http://0251.0376.0251.0376/",
		"http://[fd00:ec2::254]/", "http://metadata.google.internal/computeMetadata/v1/",
	} {
		start := time.Now()
		_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: u, Timeout: 5 * time.Second})
		ae := appErr(t, err, ErrTypeInvalid, true)
		if !strings.Contains(ae.Error(), "metadata") {
			t.Errorf("%s: %q does not say why", u, ae.Error())
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refused after %s; it must be refused before connecting", u, d)
		}
	}
}

// TestNameResolvingToMetadataRefused: a host name that the (test's own) DNS
// server answers with 169.254.169.254 is refused at dial time, and the same
// client reaches a name that resolves to loopback.
func TestNameResolvingToMetadataRefused(t *testing.T) {
	url, calls := counting(t, "ok")
	port := strings.TrimPrefix(url[strings.LastIndex(url, ":"):], ":")
	r := dns.Resolver(t, map[string]string{"app.runbook.test": "127.0.0.1", "imds.runbook.test": "169.254.169.254"})
	a := &Activities{Client: netguard.Client(r, 0)}

	if _, err := a.HTTPCheck(t.Context(), HTTPCheckInput{URL: "http://app.runbook.test:" + port + "/"}); err != nil {
		t.Fatalf("a name resolving to loopback: %v", err)
	}
	_, err := a.HTTPCheck(t.Context(), HTTPCheckInput{URL: "http://imds.runbook.test:" + port + "/latest/meta-data/", Timeout: 5 * time.Second})
	ae := appErr(t, err, ErrTypeInvalid, true)
	if !strings.Contains(ae.Error(), "169.254.169.254") {
		t.Errorf("message %q does not name the address", ae.Error())
	}
	if calls.Load() != 1 {
		t.Errorf("server calls = %d, want 1 (the loopback check only)", calls.Load())
	}
}

func TestDefaultClientRefusesAtDialTime(t *testing.T) {
	// parseURL refuses this URL before the client sees it; this asks the
	// default client directly, as a name resolving there would reach it.
	_, err := defaultClient.Get("http://169.254.169.254/")
	if !errors.Is(err, netguard.ErrBlocked) {
		t.Errorf("the default client dialled the metadata address: %v", err)
	}
}

func TestRedirectToMetadataRefused(t *testing.T) {
	redirect := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	t.Cleanup(redirect.Close)
	_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: redirect.URL, Timeout: 5 * time.Second})
	appErr(t, err, ErrTypeInvalid, true)
}

func TestBodySnippetIsScrubbed(t *testing.T) {
	imds := `{"Code":"Success","AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","Token":"IQoJb3JpZ2luX2VjEJr"}`
	url, _ := counting(t, imds)
	res, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: url, ExpectStatus: 204})
	appErr(t, err, ErrTypeFailed, false)
	for _, secret := range []string{"ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "IQoJb3JpZ2lu"} {
		if strings.Contains(res.BodySnippet, secret) || strings.Contains(err.Error(), secret) {
			t.Errorf("snippet %q or error keeps %s", res.BodySnippet, secret)
		}
	}
	if !strings.Contains(res.BodySnippet, `"Code":"Success"`) || len(res.BodySnippet) > snippetLen {
		t.Errorf("snippet %q: want the harmless part kept, at most %d bytes", res.BodySnippet, snippetLen)
	}
}
