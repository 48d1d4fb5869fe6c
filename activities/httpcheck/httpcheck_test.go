package httpcheck

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/internal/secretref"
)

// server starts an httptest server with h and returns its URL.
func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func respond(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// appErr asserts err is an ApplicationError of typ with the given retryability.
func appErr(t *testing.T, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an ApplicationError", err)
	}
	if ae.Type() != typ || ae.NonRetryable() != nonRetryable {
		t.Fatalf("err type %q non-retryable %v, want %q %v (%v)", ae.Type(), ae.NonRetryable(), typ, nonRetryable, err)
	}
	return ae
}

func TestStatus200Passes(t *testing.T) {
	url := server(t, respond(http.StatusOK, "ok\n\x00version 1.4.2"))
	res, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: url + "/healthz"})
	if err != nil {
		t.Fatalf("HTTPCheck: %v", err)
	}
	if res.Status != 200 || res.Attempt != 1 || res.DurationMS < 0 {
		t.Errorf("result = %+v", res)
	}
	if res.BodySnippet != "ok .version 1.4.2" {
		t.Errorf("snippet = %q, want control bytes made printable", res.BodySnippet)
	}
}

func TestStatusMismatchIsRetryable(t *testing.T) {
	url := server(t, respond(http.StatusServiceUnavailable, "draining"))
	_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: url + "/healthz"})
	ae := appErr(t, err, ErrTypeFailed, false)
	want := "GET " + url + "/healthz: got status 503, want 200"
	if ae.Message() != want {
		t.Errorf("message = %q, want %q", ae.Message(), want)
	}
	var details HTTPCheckResult
	if err := ae.Details(&details); err != nil || details.Status != 503 || details.BodySnippet != "draining" {
		t.Errorf("details = %+v, %v", details, err)
	}
}

func TestExpectStatusOtherThan200(t *testing.T) {
	url := server(t, respond(http.StatusNoContent, ""))
	in := HTTPCheckInput{URL: url, Method: "delete", ExpectStatus: http.StatusNoContent}
	if res, err := (&Activities{}).HTTPCheck(t.Context(), in); err != nil || res.Status != 204 {
		t.Errorf("HTTPCheck = %+v, %v", res, err)
	}
}

func TestExpectBody(t *testing.T) {
	url := server(t, respond(http.StatusOK, `{"version":"1.4.1"}`))
	a := &Activities{}
	_, err := a.HTTPCheck(t.Context(), HTTPCheckInput{URL: url, ExpectBody: "1.4.2"})
	ae := appErr(t, err, ErrTypeFailed, false)
	if !strings.HasSuffix(ae.Message(), `: body does not contain "1.4.2"`) {
		t.Errorf("message = %q", ae.Message())
	}
	if _, err := a.HTTPCheck(t.Context(), HTTPCheckInput{URL: url, ExpectBody: `"1.4.1"`}); err != nil {
		t.Errorf("matching body: %v", err)
	}
}

func TestExpectBodyBeyondLimitIsNotSeen(t *testing.T) {
	body := strings.Repeat("x", maxBody) + "marker"
	url := server(t, respond(http.StatusOK, body))
	_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: url, ExpectBody: "marker"})
	appErr(t, err, ErrTypeFailed, false)
}

func TestEnvHeaderResolvedAndSent(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "HTTPCHECK_TEST_*")
	t.Setenv("HTTPCHECK_TEST_TOKEN", "s3cr3t-value")
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "s3cr3t-value" {
			http.Error(w, "bad auth "+got, http.StatusUnauthorized)
			return
		}
		if r.Header.Get("X-Plain") != "literal" {
			http.Error(w, "missing X-Plain", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	in := HTTPCheckInput{URL: url, Headers: map[string]string{
		"Authorization": "env:HTTPCHECK_TEST_TOKEN",
		"X-Plain":       "literal",
	}}
	if _, err := (&Activities{}).HTTPCheck(t.Context(), in); err != nil {
		t.Fatalf("HTTPCheck: %v", err)
	}
}

func TestMissingEnvHeaderIsNonRetryable(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "HTTPCHECK_TEST_*")
	t.Setenv("HTTPCHECK_TEST_PRESENT", "present-secret")
	var called atomic.Bool
	url := server(t, func(http.ResponseWriter, *http.Request) { called.Store(true) })
	in := HTTPCheckInput{URL: url, Headers: map[string]string{
		"Authorization": "env:HTTPCHECK_TEST_ABSENT",
		"X-Other":       "env:HTTPCHECK_TEST_PRESENT",
	}}
	_, err := (&Activities{}).HTTPCheck(t.Context(), in)
	ae := appErr(t, err, ErrTypeInvalid, true)
	if !strings.Contains(ae.Error(), "HTTPCHECK_TEST_ABSENT") {
		t.Errorf("message %q does not name the variable", ae.Error())
	}
	if strings.Contains(ae.Error(), "present-secret") {
		t.Errorf("message %q leaks a header value", ae.Error())
	}
	if called.Load() {
		t.Error("request was sent without its header")
	}
}

func TestIdempotencyKeyAndUserAgentSent(t *testing.T) {
	seen := make(chan http.Header, 1)
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		if body, _ := io.ReadAll(r.Body); string(body) != `{"smoke":true}` {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	in := HTTPCheckInput{URL: url, Method: http.MethodPost, Body: `{"smoke":true}`, IdempotencyKey: "release/checkout/1.4.2/smoke"}
	if _, err := (&Activities{}).HTTPCheck(t.Context(), in); err != nil {
		t.Fatalf("HTTPCheck: %v", err)
	}
	h := <-seen
	if got := h.Get("Idempotency-Key"); got != in.IdempotencyKey {
		t.Errorf("Idempotency-Key = %q, want %q", got, in.IdempotencyKey)
	}
	if got := h.Get("User-Agent"); got != "runbook/"+Version {
		t.Errorf("User-Agent = %q", got)
	}
}

func TestTimeoutHonoured(t *testing.T) {
	url := server(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	start := time.Now()
	_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: url, Timeout: 100 * time.Millisecond})
	ae := appErr(t, err, ErrTypeFailed, false)
	if !strings.Contains(ae.Error(), "no response within 100ms") {
		t.Errorf("message = %q", ae.Error())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s, timeout was 100ms", d)
	}
}

func TestCancelReturnsContextError(t *testing.T) {
	arrived := make(chan struct{})
	url := server(t, func(_ http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	_, err := (&Activities{}).HTTPCheck(ctx, HTTPCheckInput{URL: url})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestConnectionErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(respond(200, ""))
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: url})
	ae := appErr(t, err, ErrTypeFailed, false)
	if !strings.HasPrefix(ae.Error(), "GET "+url+": ") {
		t.Errorf("message = %q", ae.Error())
	}
}

func TestInvalidInputIsNonRetryable(t *testing.T) {
	for name, in := range map[string]HTTPCheckInput{
		"relative URL":  {URL: "/healthz"},
		"bad scheme":    {URL: "ftp://example.com/"},
		"unparseable":   {URL: "http://[::1"},
		"method":        {URL: "http://127.0.0.1/", Method: "TRACE"},
		"negative":      {URL: "http://127.0.0.1/", Timeout: -time.Second},
		"head and body": {URL: "http://127.0.0.1/", Method: "HEAD", ExpectBody: "ok"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&Activities{}).HTTPCheck(t.Context(), in)
			appErr(t, err, ErrTypeInvalid, true)
		})
	}
}

func TestCredentialsInURLAreRedacted(t *testing.T) {
	url := server(t, respond(http.StatusInternalServerError, ""))
	withCreds := strings.Replace(url, "http://", "http://deploy:hunter2@", 1)
	_, err := (&Activities{}).HTTPCheck(t.Context(), HTTPCheckInput{URL: withCreds})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v, want a failure without the password", err)
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes; byte 200 ends a rune exactly
	if got := snippet([]byte(long)); got != strings.Repeat("é", 100) {
		t.Errorf("snippet of long UTF-8 = %q", got)
	}
	cut := "a" + strings.Repeat("é", 150) // byte 200 splits a rune
	if got := snippet([]byte(cut)); !strings.HasSuffix(got, "é.") || len(got) != 200 {
		t.Errorf("snippet splitting a rune = %q (%d bytes)", got, len(got))
	}
}

func TestHTTPCheckInActivityEnvironment(t *testing.T) {
	url := server(t, respond(http.StatusOK, "1.4.2"))
	a := &Activities{}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)

	val, err := env.ExecuteActivity(a.HTTPCheck, HTTPCheckInput{URL: url, ExpectBody: "1.4.2"})
	if err != nil {
		t.Fatalf("ExecuteActivity: %v", err)
	}
	var res HTTPCheckResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || res.Attempt != 1 || res.BodySnippet != "1.4.2" {
		t.Errorf("result = %+v", res)
	}

	_, err = env.ExecuteActivity(a.HTTPCheck, HTTPCheckInput{URL: url, ExpectStatus: 204})
	ae := appErr(t, err, ErrTypeFailed, false)
	if !strings.Contains(ae.Error(), "got status 200, want 204") {
		t.Errorf("message = %q", ae.Error())
	}
}
