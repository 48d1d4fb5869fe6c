// Package httpcheck implements the runbook's http-check step: one HTTP request per
// activity attempt. Waiting and repeating are left to Temporal: the workflow sets
// the retry interval and puts the overall deadline in ScheduleToClose, so every
// attempt is visible in the UI with what it expected and what it got.
package httpcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/netguard"
	"github.com/runbookhq/runbook/internal/scrub"
	"github.com/runbookhq/runbook/internal/secretref"
)

// Version goes into the User-Agent header; the build sets it with
// -ldflags "-X github.com/runbookhq/runbook/activities/httpcheck.Version=1.2.3".
var Version = "dev"

// Error types, visible in the Temporal UI.
const (
	// ErrTypeFailed is a check that did not pass this time: retried.
	ErrTypeFailed = "HTTPCheckFailed"
	// ErrTypeInvalid is a check that can never pass as written: not retried.
	ErrTypeInvalid = "HTTPCheckInvalid"
)

// Defaults for fields left empty in HTTPCheckInput.
const (
	DefaultMethod  = http.MethodGet
	DefaultStatus  = http.StatusOK
	DefaultTimeout = 10 * time.Second
)

const (
	maxBody    = 1 << 20 // bytes read from a response, enough for any health page
	snippetLen = 200
	// scrubWindow is the part of a body scrubbed before the snippet is cut.
	scrubWindow = 4096
	envPrefix   = secretref.Prefix
)

var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// Activities runs HTTP checks.
type Activities struct {
	// Client sends the requests; nil means a netguard client, which refuses
	// link-local and metadata addresses after DNS resolution. Per-attempt
	// timeouts come from the input, not from the client.
	Client *http.Client
}

// HTTPCheckInput describes one check.
type HTTPCheckInput struct {
	URL    string
	Method string // default GET
	// Headers to send. A value "env:NAME" is replaced by the worker's environment
	// variable NAME when the request is made, so tokens stay out of workflow history.
	Headers map[string]string
	Body    string
	// ExpectStatus is the status that passes, default 200.
	ExpectStatus int
	// ExpectBody, if set, must occur in the first MiB of the response body.
	ExpectBody string
	// Timeout bounds one attempt, default 10s.
	Timeout time.Duration
	// IdempotencyKey, if set, is sent as the Idempotency-Key header so a
	// non-GET check retried by Temporal is applied once by a server that honours it.
	IdempotencyKey string
}

// HTTPCheckResult describes a passing attempt.
type HTTPCheckResult struct {
	Status int
	// Attempt is Temporal's attempt number, 1 for the first try.
	Attempt    int32
	DurationMS int64
	// BodySnippet is the first 200 bytes of the body with non-printable bytes
	// replaced, to show in the UI without breaking it, and anything that looks
	// like a key (access key IDs, secret fields, bearer tokens, private keys,
	// long random tokens) masked: it is kept in workflow history.
	BodySnippet string
}

// HTTPCheck makes one request and checks its status and body. A mismatch or a
// network error is a retryable HTTPCheckFailed error saying what was expected and
// what came back, with the result as details; a check that can never pass (bad
// URL, method or timeout, missing env variable) is a non-retryable HTTPCheckInvalid.
func (a *Activities) HTTPCheck(ctx context.Context, in HTTPCheckInput) (HTTPCheckResult, error) {
	in = withDefaults(in)
	req, err := buildRequest(ctx, in)
	if err != nil {
		return HTTPCheckResult{}, err
	}
	res := HTTPCheckResult{Attempt: attempt(ctx)}
	start := time.Now()
	status, _, body, err := a.do(ctx, req, in.Timeout)
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		return res, err
	}
	res.Status, res.BodySnippet = status, snippet(body)
	return res, check(req, in, res, body)
}

// withDefaults fills the documented defaults.
func withDefaults(in HTTPCheckInput) HTTPCheckInput {
	in.Method = strings.ToUpper(in.Method)
	if in.Method == "" {
		in.Method = DefaultMethod
	}
	if in.ExpectStatus == 0 {
		in.ExpectStatus = DefaultStatus
	}
	if in.Timeout == 0 {
		in.Timeout = DefaultTimeout
	}
	return in
}

// attempt returns Temporal's attempt number, or 1 when called outside an
// activity (a CLI preflight check makes exactly one attempt).
func attempt(ctx context.Context) int32 {
	if activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).Attempt
	}
	return 1
}

// do sends req with a per-attempt timeout and reads at most maxBody bytes.
func (a *Activities) do(ctx context.Context, req *http.Request, timeout time.Duration) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := a.client().Do(req.WithContext(actx))
	if err != nil {
		return 0, nil, nil, requestError(ctx, req, timeout, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, requestError(ctx, req, timeout, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// requestError explains a failed request. Cancellation of the activity itself is
// returned as the context error so Temporal records a cancel, not a failure.
func requestError(ctx context.Context, req *http.Request, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return failed(req, fmt.Sprintf("no response within %s", timeout), nil)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // url.Error repeats the method and URL we already print
	}
	if errors.Is(err, netguard.ErrBlocked) {
		// Another attempt would be refused the same way, or, worse, pass
		// once a rebinding name answers differently: never retried.
		return invalid(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Redacted(), err))
	}
	return failed(req, err.Error(), nil)
}

// check compares a response with the expectations.
func check(req *http.Request, in HTTPCheckInput, res HTTPCheckResult, body []byte) error {
	if res.Status != in.ExpectStatus {
		return failed(req, fmt.Sprintf("got status %d, want %d", res.Status, in.ExpectStatus), res)
	}
	if in.ExpectBody != "" && !strings.Contains(string(body), in.ExpectBody) {
		return failed(req, fmt.Sprintf("body does not contain %q", in.ExpectBody), res)
	}
	return nil
}

// failed builds the retryable error, prefixed with method and URL (credentials
// in the URL redacted) so the UI shows which check it was.
func failed(req *http.Request, what string, details any) error {
	msg := fmt.Sprintf("%s %s: %s", req.Method, req.URL.Redacted(), what)
	if details == nil {
		return temporal.NewApplicationError(msg, ErrTypeFailed)
	}
	return temporal.NewApplicationError(msg, ErrTypeFailed, details)
}

// client returns the configured client or the shared default.
func (a *Activities) client() *http.Client {
	if a != nil && a.Client != nil {
		return a.Client
	}
	return defaultClient
}

// defaultClient has no overall Timeout because each attempt sets its own.
var defaultClient = netguard.Client(nil, 0)

// snippet returns the first snippetLen bytes of b with anything that looks
// like a credential masked (it goes into history), readable in a UI: invalid
// UTF-8 and control characters become '.', whitespace becomes a space. The
// masking sees scrubWindow bytes, so a key cut by the limit is still found.
func snippet(b []byte) string {
	b = []byte(scrub.Text(string(b[:min(len(b), scrubWindow)])))
	b = b[:min(len(b), snippetLen)]
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			sb.WriteByte('.')
		case unicode.IsSpace(r):
			sb.WriteByte(' ')
		case unicode.IsPrint(r):
			sb.WriteRune(r)
		default:
			sb.WriteByte('.')
		}
	}
	return sb.String()
}
