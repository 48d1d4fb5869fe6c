package httpcheck

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/internal/secretref"
)

// The shop's secrets in these tests: the worker's API key, the session token
// the login answers with and the order number its order answers with.
const (
	shopKey   = "worker-api-key-0123456789"
	shopToken = "session-token-eyJhbGciOi-9f8e7d6c5b4a"
	shopOrder = "ord-77419"
)

// shop is a small web shop on 127.0.0.1: POST /login (needs the worker's
// API key) answers a token in JSON, POST /orders (needs the token) answers
// 201 with the order number in a header, GET /orders/N (needs the token)
// answers the order. It records what each request carried.
type shop struct {
	mu      sync.Mutex
	seen    []string // method path authorization idempotency-key
	noToken bool     // login answers without a token
}

func (s *shop) start(t *testing.T) string {
	return server(t, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")))
		noToken := s.noToken
		s.mu.Unlock()
		auth := r.Header.Get("Authorization") == "Bearer "+shopToken
		switch {
		case r.Method == "POST" && r.URL.Path == "/login" && r.Header.Get("X-Api-Key") == shopKey:
			if noToken {
				_, _ = fmt.Fprint(w, `{"user":"smoke"}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"user":"smoke","session":{"token":%q}}`, shopToken)
		case r.Method == "POST" && r.URL.Path == "/orders" && auth:
			w.Header().Set("X-Order-Id", shopOrder)
			w.WriteHeader(http.StatusCreated)
		case r.Method == "GET" && r.URL.Path == "/orders/"+shopOrder && auth:
			_ = json.NewEncoder(w).Encode(map[string]any{"id": shopOrder, "paid": true, "total": 12.5, "token": shopToken})
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	})
}

func allowShopKey(t *testing.T) {
	t.Setenv(secretref.AllowEnv, "JOURNEY_TEST_*")
	t.Setenv("JOURNEY_TEST_KEY", shopKey)
}

// buyJourney logs in, orders with the token, reads the order back by the
// number from the order's header.
func buyJourney(base string) JourneyInput {
	bearer := map[string]string{"Authorization": "Bearer ${journey.token}"}
	return JourneyInput{IdempotencyKey: "deploy/shop/staging/run/buy", Requests: []JourneyRequest{
		{Name: "login", Method: "POST", URL: base + "/login", Headers: map[string]string{"X-Api-Key": "env:JOURNEY_TEST_KEY"},
			Body: `{"user":"smoke"}`, Extract: map[string]string{"token": "$.session.token"}},
		{Name: "order", Method: "POST", URL: base + "/orders", Headers: bearer, ExpectStatus: 201,
			Extract: map[string]string{"order": "header:X-Order-Id"}},
		{Name: "read", URL: base + "/orders/${journey.order}", Headers: bearer, ExpectBody: `"paid":true`,
			ExpectJSON: map[string]string{"$.id": "${journey.order}", "$.paid": "true", "$.total": "12.5"}},
	}}
}

// leaks fails when anything the test can see outside the attempt carries
// the token, the order number or the worker's key.
func leaks(t *testing.T, what string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	s := string(b) + fmt.Sprint(v)
	for _, secret := range []string{shopKey, shopToken, shopOrder} {
		if strings.Contains(s, secret) {
			t.Errorf("%s carries %q: %s", what, secret, s)
		}
	}
}

func TestJourneyCarriesValuesFromAnswerToRequest(t *testing.T) {
	allowShopKey(t)
	s := &shop{}
	res, err := (&Activities{}).Journey(t.Context(), buyJourney(s.start(t)))
	if err != nil {
		t.Fatalf("Journey: %v", err)
	}
	if len(res.Requests) != 3 || res.Attempt != 1 {
		t.Fatalf("result = %+v", res)
	}
	for i, want := range []int{200, 201, 200} {
		if r := res.Requests[i]; !r.Passed || r.Status != want || r.Detail != "" {
			t.Errorf("request %d = %+v, want passed with %d", i, r, want)
		}
	}
	want := []string{
		"POST /login  deploy/shop/staging/run/buy/login",
		"POST /orders Bearer " + shopToken + " deploy/shop/staging/run/buy/order",
		"GET /orders/" + shopOrder + " Bearer " + shopToken + " deploy/shop/staging/run/buy/read",
	}
	if strings.Join(s.seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("the shop saw\n%s\nwant\n%s", strings.Join(s.seen, "\n"), strings.Join(want, "\n"))
	}
	leaks(t, "the result", res)
}

func TestJourneyFailingExpectationNamesTheRequest(t *testing.T) {
	allowShopKey(t)
	s := &shop{}
	in := buyJourney(s.start(t))
	in.Requests[2].ExpectJSON["$.paid"] = "false"
	res, err := (&Activities{}).Journey(t.Context(), in)
	ae := appErr(t, err, ErrTypeFailed, false)
	if ae.Message() != `request read: $.paid is "true", want "false"` {
		t.Errorf("message = %q", ae.Error())
	}
	if len(res.Requests) != 3 || !res.Requests[1].Passed || res.Requests[2].Passed || res.Requests[2].Detail != `$.paid is "true", want "false"` {
		t.Errorf("result = %+v", res)
	}
	var details JourneyResult
	if err := ae.Details(&details); err != nil || len(details.Requests) != 3 {
		t.Errorf("details = %+v, %v", details, err)
	}
	leaks(t, "the error", ae.Error())
	leaks(t, "the details", details)

	// A JSON value that looks like a credential is masked.
	in = buyJourney(in.Requests[0].URL[:strings.LastIndex(in.Requests[0].URL, "/")])
	in.Requests[2].ExpectJSON = map[string]string{"$.token": "nope"}
	_, err = (&Activities{}).Journey(t.Context(), in)
	if ae := appErr(t, err, ErrTypeFailed, false); ae.Message() != `request read: $.token is "[redacted]", want "nope"` {
		t.Errorf("message = %q", ae.Error())
	}
	// An extracted value in a message is shown by its name.
	in.Requests[2].ExpectJSON = map[string]string{"$.id": "ord-1"}
	_, err = (&Activities{}).Journey(t.Context(), in)
	if ae := appErr(t, err, ErrTypeFailed, false); ae.Message() != `request read: $.id is "${journey.order}", want "ord-1"` {
		t.Errorf("message = %q", ae.Error())
	}
}

func TestJourneyStatusMismatch(t *testing.T) {
	allowShopKey(t)
	in := buyJourney((&shop{}).start(t))
	in.Requests[0].Headers = nil // no API key: the shop answers 401
	res, err := (&Activities{}).Journey(t.Context(), in)
	if ae := appErr(t, err, ErrTypeFailed, false); ae.Message() != "request login: got 401, want 200" {
		t.Errorf("message = %q", ae.Error())
	}
	if len(res.Requests) != 1 || res.Requests[0].Status != 401 || res.Requests[0].Passed {
		t.Errorf("result = %+v", res)
	}
}

func TestJourneyMissingExtractionIsAClearFailure(t *testing.T) {
	allowShopKey(t)
	s := &shop{noToken: true}
	res, err := (&Activities{}).Journey(t.Context(), buyJourney(s.start(t)))
	ae := appErr(t, err, ErrTypeFailed, false)
	if ae.Message() != `request login: extract token: $.session.token: missing: no member "session"` {
		t.Errorf("message = %q", ae.Error())
	}
	if len(s.seen) != 1 || len(res.Requests) != 1 {
		t.Errorf("a request was sent after the failed extraction: %v", s.seen)
	}

	in := buyJourney(server(t, respond(200, "<html>")))
	in.Requests[0].Headers = nil
	_, err = (&Activities{}).Journey(t.Context(), in)
	if ae := appErr(t, err, ErrTypeFailed, false); ae.Message() != "request login: extract token: the answer is not JSON" {
		t.Errorf("message = %q", ae.Error())
	}
}

// TestJourneyNetworkErrorHidesExtractedValues: the shop goes away after
// the order; the failure of the read names the URL as written.
func TestJourneyNetworkErrorHidesExtractedValues(t *testing.T) {
	allowShopKey(t)
	s := &shop{}
	base := s.start(t)
	in := buyJourney(base)
	in.Requests[2].URL = "http://127.0.0.1:1/orders/${journey.order}?t=${journey.token}"
	_, err := (&Activities{}).Journey(t.Context(), in)
	ae := appErr(t, err, ErrTypeFailed, false)
	if !strings.HasPrefix(ae.Error(), "request read: GET http://127.0.0.1:1/orders/${journey.order}?t=${journey.token}: ") {
		t.Errorf("message = %q", ae.Error())
	}
	leaks(t, "the error", ae.Error())
}

// TestJourneyEnvHeaderOnlyToTheWrittenHost: an answer cannot pick the host
// a worker secret goes to, nor turn a header into an env: reference.
func TestJourneyEnvHeaderOnlyToTheWrittenHost(t *testing.T) {
	allowShopKey(t)
	var got []string
	var mu sync.Mutex
	evil := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Api-Key")+"|"+r.Header.Get("X-Echo"))
		mu.Unlock()
		_, _ = fmt.Fprintf(w, `{"next":%q,"ref":"env:JOURNEY_TEST_KEY"}`, "http://"+r.Host)
	})
	in := JourneyInput{Requests: []JourneyRequest{
		{Name: "first", URL: evil, Extract: map[string]string{"next": "$.next", "ref": "$.ref"}},
		{Name: "echo", URL: evil + "/echo", Headers: map[string]string{"X-Echo": "${journey.ref}"}},
		{Name: "second", URL: "${journey.next}/x", Headers: map[string]string{"X-Api-Key": "env:JOURNEY_TEST_KEY"}},
	}}
	_, err := (&Activities{}).Journey(t.Context(), in)
	ae := appErr(t, err, ErrTypeInvalid, true)
	if !strings.Contains(ae.Error(), "request second: ${journey.next}/x: the host comes from an extracted value") {
		t.Errorf("message = %q", ae.Error())
	}
	if strings.Join(got, ",") != "|,|env:JOURNEY_TEST_KEY" {
		t.Errorf("the server saw %q; the key must never reach it, the reference only as text", got)
	}
}

func TestJourneyInActivityEnvironment(t *testing.T) {
	allowShopKey(t)
	a := &Activities{}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(a.Journey, buyJourney((&shop{}).start(t)))
	if err != nil {
		t.Fatalf("ExecuteActivity: %v", err)
	}
	var res JourneyResult
	if err := val.Get(&res); err != nil || len(res.Requests) != 3 {
		t.Fatalf("result = %+v, %v", res, err)
	}
	leaks(t, "the result", res)
}
