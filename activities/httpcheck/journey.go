package httpcheck

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/runbooks"
)

// JourneyInput describes one journey: requests sent in order, each using
// the values the ones before it extracted. One activity attempt runs the
// whole journey, so the extracted values (often tokens) live only in this
// attempt's memory: never in its input, result, errors or logs.
type JourneyInput struct {
	Requests []JourneyRequest
	// Timeout bounds each request, default 10s.
	Timeout time.Duration
	// IdempotencyKey, if set, is sent with each request as
	// IdempotencyKey/<request name>, the same on every attempt.
	IdempotencyKey string
}

// JourneyRequest is one request as written in the runbook, with the
// release's variables already replaced; ${journey.NAME} is replaced here.
type JourneyRequest struct {
	Name, Method, URL string
	// Headers as in HTTPCheckInput: env:NAME is the worker's variable NAME.
	Headers      map[string]string
	Body         string
	ExpectStatus int
	ExpectBody   string
	// ExpectJSON maps a JSON path of the answer to its value as text.
	ExpectJSON map[string]string
	// Extract maps a value name to a JSON path or header:Name.
	Extract map[string]string
}

// JourneyResult is what a journey attempt did, request by request. It holds
// no value from any answer: only statuses, timings and redacted details.
type JourneyResult struct {
	Attempt    int32
	DurationMS int64
	Requests   []JourneyRequestResult
}

// JourneyRequestResult is one request's outcome.
type JourneyRequestResult struct {
	Name       string
	Status     int
	DurationMS int64
	Passed     bool
	// Detail says what failed, with extracted values and anything that
	// looks like a credential masked.
	Detail string `json:",omitempty"`
}

// Journey runs the requests in order and stops at the first that fails. A
// failure is a retryable HTTPCheckFailed naming the request ("request
// login: got status 401, want 200"), with the result as details; a journey
// that can never pass as written is a non-retryable HTTPCheckInvalid.
func (a *Activities) Journey(ctx context.Context, in JourneyInput) (JourneyResult, error) {
	res := JourneyResult{Attempt: attempt(ctx)}
	start := time.Now()
	defer func() { res.DurationMS = time.Since(start).Milliseconds() }()
	j := &journey{a: a, in: in, vals: map[string]string{}}
	for _, r := range in.Requests {
		rr, err := j.run(ctx, r)
		res.Requests = append(res.Requests, rr)
		if err != nil {
			res.DurationMS = time.Since(start).Milliseconds()
			return res, j.fail(ctx, r, err, res)
		}
	}
	return res, nil
}

// journey is one attempt: the values extracted so far.
type journey struct {
	a    *Activities
	in   JourneyInput
	vals map[string]string // runbooks.VarJourneyPrefix+name -> value
}

// run sends one request and checks and extracts from its answer.
func (j *journey) run(ctx context.Context, r JourneyRequest) (JourneyRequestResult, error) {
	rr := JourneyRequestResult{Name: r.Name}
	in, err := j.input(r)
	if err != nil {
		return rr, err
	}
	req, err := buildRequest(ctx, in)
	if err != nil {
		return rr, err
	}
	if err := j.setJourneyHeaders(req, r); err != nil {
		return rr, err
	}
	start := time.Now()
	status, header, body, err := j.a.do(ctx, req, in.Timeout)
	rr.DurationMS, rr.Status = time.Since(start).Milliseconds(), status
	if err != nil {
		return rr, err
	}
	if err := j.expect(in, r, status, body); err != nil {
		return rr, err
	}
	if err := j.extract(r, header, body); err != nil {
		return rr, err
	}
	rr.Passed = true
	return rr, nil
}

// input is the http-check input of r with the journey values in place.
// Headers written env:NAME, or without journey values, go through the
// http-check's own rules unchanged; setJourneyHeaders adds the others, so
// an answer can never turn a header into an env: reference.
func (j *journey) input(r JourneyRequest) (HTTPCheckInput, error) {
	in := withDefaults(HTTPCheckInput{
		URL: j.expand(r.URL), Method: r.Method, Body: j.expand(r.Body), ExpectStatus: r.ExpectStatus,
		ExpectBody: j.expand(r.ExpectBody), Timeout: j.in.Timeout, Headers: map[string]string{},
	})
	if j.in.IdempotencyKey != "" {
		in.IdempotencyKey = j.in.IdempotencyKey + "/" + r.Name
	}
	hasEnv := false
	for name, v := range r.Headers {
		if strings.HasPrefix(v, envPrefix) || !usesJourney(v) {
			in.Headers[name] = v
			hasEnv = hasEnv || strings.HasPrefix(v, envPrefix)
		}
	}
	for _, t := range []string{in.URL, in.Body, in.ExpectBody} {
		if strings.Contains(t, "${"+runbooks.VarJourneyPrefix) {
			return in, invalid(fmt.Sprintf("%s uses a journey value no request before it extracted", t))
		}
	}
	// A worker secret goes to the host written in the runbook, never to
	// one an answer named.
	if hasEnv && hostOf(placeheld(r.URL)) != hostOf(in.URL) {
		return in, invalid(fmt.Sprintf("%s: the host comes from an extracted value, so env: headers are not sent to it; write the host in the URL", r.URL))
	}
	return in, nil
}

// setJourneyHeaders sets the headers that use journey values.
func (j *journey) setJourneyHeaders(req *http.Request, r JourneyRequest) error {
	for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
		v := r.Headers[name]
		if strings.HasPrefix(v, envPrefix) || !usesJourney(v) {
			continue
		}
		v = j.expand(v)
		if usesJourney(v) {
			return invalid(fmt.Sprintf("header %s uses a journey value no request before it extracted", name))
		}
		if strings.ContainsAny(v, "\r\n") {
			return temporal.NewApplicationError(fmt.Sprintf("header %s: an extracted value has a line break", name), ErrTypeFailed)
		}
		if http.CanonicalHeaderKey(name) == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(name, v)
	}
	return nil
}

// fail turns err into the journey's error, named by the request and with
// nothing of the extracted values or the answers' credentials in it.
func (j *journey) fail(ctx context.Context, r JourneyRequest, err error, res JourneyResult) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg, errType, nonRetryable := err.Error(), ErrTypeFailed, false
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		msg, errType, nonRetryable = ae.Message(), ae.Type(), ae.NonRetryable()
	}
	detail := j.redact(strings.TrimPrefix(msg, "http-check: "), r)
	res.Requests[len(res.Requests)-1].Detail = detail
	msg = fmt.Sprintf("request %s: %s", r.Name, detail)
	if nonRetryable {
		return temporal.NewNonRetryableApplicationError(msg, errType, nil, res)
	}
	return temporal.NewApplicationError(msg, errType, res)
}
