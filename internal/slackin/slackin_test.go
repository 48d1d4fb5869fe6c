package slackin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

func TestApproveDecidesWithMappedActor(t *testing.T) {
	f := newFixture(t)
	w := f.post(t, button("U0BOB", slackacts.ActionApprove, "1750000000.000100"))
	if w.Code != http.StatusOK || readBody(t, w) != "" {
		t.Fatalf("answer = %d %q, want 200 and an empty body", w.Code, readBody(t, w))
	}
	f.h.Wait()
	clicks := f.dec.calls()
	if len(clicks) != 1 {
		t.Fatalf("Decide called %d times, want 1", len(clicks))
	}
	want := Click{SlackUserID: "U0BOB", Actor: "bob", Approve: true,
		ReleaseID: route.ReleaseID, EnvWorkflowID: route.EnvWorkflowID, EnvRunID: route.EnvRunID, Gate: route.Gate,
		Channel: channel, MessageTS: msgTS, ResponseURL: "https://hooks.slack.com/actions/T0/1/abc",
		DeliveryID: "click:U0BOB:1750000000.000100"}
	if clicks[0] != want {
		t.Errorf("click = %+v\nwant    %+v", clicks[0], want)
	}
	eph := f.slack.Calls(slackfake.PostEphemeral)
	if len(eph) != 1 || eph[0].Form.Get("user") != "U0BOB" || eph[0].Form.Get("channel") != channel ||
		!strings.Contains(eph[0].Form.Get("text"), "You approved gate release-manager") {
		t.Errorf("ephemeral answers = %+v", eph)
	}
	if a := f.audit.all(); len(a) != 1 || a[0].outcome != OutcomeDecided {
		t.Errorf("audit = %+v", a)
	}
}

func TestUnmappedUserActsAsSlackID(t *testing.T) {
	f := newFixture(t)
	f.post(t, button("U0EVE", slackacts.ActionApprove, "1750000000.000100"))
	f.h.Wait()
	if clicks := f.dec.calls(); len(clicks) != 1 || clicks[0].Actor != "slack:U0EVE" {
		t.Errorf("clicks = %+v", clicks)
	}
}

func TestAnswerReturnsWhileDecideIsBlocked(t *testing.T) {
	f := newFixture(t)
	f.dec.entered, f.dec.release = make(chan struct{}, 1), make(chan struct{})
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- f.post(t, button("U0BOB", slackacts.ActionApprove, "1750000000.000100")) }()

	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	select {
	case w := <-done:
		if w.Code != http.StatusOK {
			t.Fatalf("answer = %d", w.Code)
		}
	case <-timeout.C:
		close(f.dec.release)
		t.Fatal("the handler waited for Decide instead of answering")
	}
	select {
	case <-f.dec.entered:
	case <-timeout.C:
		t.Fatal("Decide never ran after the answer")
	}
	if n := len(f.slack.Calls(slackfake.PostEphemeral)); n != 0 {
		t.Errorf("%d answers posted before Decide returned", n)
	}
	close(f.dec.release)
	f.h.Wait()
	if n := len(f.slack.Calls(slackfake.PostEphemeral)); n != 1 {
		t.Errorf("%d answers posted after Decide, want 1", n)
	}
}

func TestRejectAsksForReasonThenDecides(t *testing.T) {
	f := newFixture(t)
	w := f.post(t, button("U0BOB", slackacts.ActionReject, "1750000000.000200"))
	if w.Code != http.StatusOK {
		t.Fatalf("answer = %d", w.Code)
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 0 {
		t.Fatalf("a click on Reject decided before the reason: %d calls", n)
	}
	opened := f.slack.Calls(slackfake.ViewsOpen)
	if len(opened) != 1 {
		t.Fatalf("views.open called %d times, want 1", len(opened))
	}
	var req struct {
		TriggerID string                   `json:"trigger_id"`
		View      goslack.ModalViewRequest `json:"view"`
	}
	if err := json.Unmarshal(opened[0].JSON, &req); err != nil {
		t.Fatal(err)
	}
	if req.TriggerID != "trig-1750000000.000200" || req.View.CallbackID != CallbackReject {
		t.Errorf("views.open trigger %q callback %q", req.TriggerID, req.View.CallbackID)
	}
	if !hasRequiredReason(req.View) {
		t.Errorf("dialog has no required reason input: %s", opened[0].JSON)
	}

	w = f.post(t, submission("U0BOB", req.View.PrivateMetadata, "  error rate up  ", "trig-sub-1"))
	if w.Code != http.StatusOK || readBody(t, w) != "" {
		t.Fatalf("submission answer = %d %q, want 200 and an empty body (closes the dialog)", w.Code, readBody(t, w))
	}
	f.h.Wait()
	clicks := f.dec.calls()
	if len(clicks) != 1 {
		t.Fatalf("Decide called %d times", len(clicks))
	}
	c := clicks[0]
	if c.Approve || c.Reason != "error rate up" || c.Actor != "bob" || c.Gate != route.Gate ||
		c.EnvRunID != route.EnvRunID || c.Channel != channel || c.MessageTS != msgTS || c.DeliveryID != "trigger:trig-sub-1" {
		t.Errorf("click = %+v", c)
	}
	if eph := f.slack.Calls(slackfake.PostEphemeral); len(eph) != 1 || !strings.Contains(eph[0].Form.Get("text"), "You rejected") {
		t.Errorf("ephemeral answers = %+v", eph)
	}
}

func hasRequiredReason(v goslack.ModalViewRequest) bool {
	for _, b := range v.Blocks.BlockSet {
		if in, ok := b.(*goslack.InputBlock); ok && in.BlockID == reasonBlock && !in.Optional {
			return true
		}
	}
	return false
}

func TestRejectWithoutReasonKeepsDialogOpen(t *testing.T) {
	f := newFixture(t)
	meta, _ := json.Marshal(pending{Route: route, Channel: channel, MessageTS: msgTS})
	w := f.post(t, submission("U0BOB", string(meta), "   ", "trig-sub-1"))
	var resp goslack.ViewSubmissionResponse
	if err := json.Unmarshal([]byte(readBody(t, w)), &resp); err != nil {
		t.Fatalf("answer %q: %v", readBody(t, w), err)
	}
	if w.Code != http.StatusOK || resp.ResponseAction != goslack.RAErrors || resp.Errors[reasonBlock] == "" {
		t.Errorf("answer = %d %+v", w.Code, resp)
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 0 {
		t.Errorf("Decide called %d times for an empty reason", n)
	}
}

func TestUnverifiedRequestsAreRefused(t *testing.T) {
	f := newFixture(t)
	click := button("U0BOB", slackacts.ActionApprove, "1750000000.000100")
	now := f.clock()
	cases := map[string]*http.Request{
		"forged":          signed(t, "not-the-secret", now, click),
		"stale":           signed(t, secret, now.Add(-6*time.Minute), click),
		"from the future": signed(t, secret, now.Add(6*time.Minute), click),
		"tampered": func() *http.Request {
			r := signed(t, secret, now, click)
			evil := button("U0BOB", slackacts.ActionApprove, "1750000000.000999")
			r.Body = http.NoBody
			r2 := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(formBody(t, evil)))
			r2.Header = r.Header
			return r2
		}(),
		"no signature": func() *http.Request {
			r := signed(t, secret, now, click)
			r.Header.Del("X-Slack-Signature")
			return r
		}(),
		"no timestamp": func() *http.Request {
			r := signed(t, secret, now, click)
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}(),
		"no v0 prefix": func() *http.Request {
			r := signed(t, secret, now, click)
			r.Header.Set("X-Slack-Signature", strings.TrimPrefix(r.Header.Get("X-Slack-Signature"), "v0="))
			return r
		}(),
	}
	for name, r := range cases {
		w := f.serve(r)
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(readBody(t, w), "slack signature: ") {
			t.Errorf("%s: answer = %d %q, want 401 with a reason", name, w.Code, readBody(t, w))
		}
		if strings.Contains(readBody(t, w), secret) {
			t.Errorf("%s: answer shows the secret", name)
		}
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 0 {
		t.Errorf("Decide called %d times for unverified requests", n)
	}
	if n := len(f.slack.Calls(slackfake.PostEphemeral)) + len(f.slack.Calls(slackfake.ViewsOpen)); n != 0 {
		t.Errorf("%d calls to Slack for unverified requests", n)
	}
}

func TestDoubleDeliveryDecidesOnce(t *testing.T) {
	f := newFixture(t)
	click := button("U0BOB", slackacts.ActionApprove, "1750000000.000100")
	for range 2 {
		if w := f.post(t, click); w.Code != http.StatusOK {
			t.Fatalf("answer = %d", w.Code)
		}
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 1 {
		t.Errorf("Decide called %d times for one click delivered twice", n)
	}
	// A new click by the same person is a new decision: the validator judges it.
	f.post(t, button("U0BOB", slackacts.ActionApprove, "1750000000.000300"))
	// The same delivery after the window is forgotten (a real Slack would
	// have stopped retrying long before).
	f.advance(dedupWindow + time.Second)
	f.post(t, click)
	f.h.Wait()
	if n := len(f.dec.calls()); n != 3 {
		t.Errorf("Decide called %d times, want 3", n)
	}
}

func TestDoubleSubmissionRejectsOnce(t *testing.T) {
	f := newFixture(t)
	meta, _ := json.Marshal(pending{Route: route, Channel: channel, MessageTS: msgTS})
	sub := submission("U0BOB", string(meta), "no", "trig-sub-1")
	f.post(t, sub)
	f.post(t, sub)
	f.h.Wait()
	if n := len(f.dec.calls()); n != 1 {
		t.Errorf("Decide called %d times for one submission delivered twice", n)
	}
}

func TestRefusalIsToldAndAudited(t *testing.T) {
	const why = "approve refused: alice started this release and may not approve it (separation of duties; set policy.allow-self-approval to change)"
	for _, tc := range []struct {
		err     error
		outcome string
		told    string
	}{
		{errors.New(why), OutcomeRefused, why},
		{context.DeadlineExceeded, OutcomeFailed, "runbook status release/checkout/1.4.2"},
	} {
		f := newFixture(t)
		f.dec.err = tc.err
		f.post(t, button("U0ALICE", slackacts.ActionApprove, "1750000000.000100"))
		f.h.Wait()
		eph := f.slack.Calls(slackfake.PostEphemeral)
		if len(eph) != 1 || eph[0].Form.Get("user") != "U0ALICE" || !strings.Contains(eph[0].Form.Get("text"), tc.told) {
			t.Errorf("%v: ephemeral answers = %+v", tc.err, eph)
		}
		a := f.audit.all()
		if len(a) != 1 || a[0].outcome != tc.outcome || !errors.Is(a[0].err, tc.err) || a[0].click.Actor != "slack:U0ALICE" {
			t.Errorf("%v: audit = %+v", tc.err, a)
		}
		if n := len(f.slack.Calls(slackfake.Update)); n != 0 {
			t.Errorf("the handler updated the gate message (%d); that is the workflow's job", n)
		}
	}
}

func TestOtherRequests(t *testing.T) {
	f := newFixture(t)
	if w := f.serve(httptest.NewRequest(http.MethodGet, Path, nil)); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d", w.Code)
	}
	big := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(make([]byte, MaxBody+1)))
	if w := f.serve(big); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %d", w.Code)
	}
	shortcut := goslack.InteractionCallback{Type: goslack.InteractionTypeShortcut, User: goslack.User{ID: "U0BOB"}}
	if w := f.post(t, shortcut); w.Code != http.StatusOK {
		t.Errorf("shortcut: %d, want 200 (acknowledged, ignored)", w.Code)
	}
	other := button("U0BOB", "something.else", "1750000000.000100")
	if w := f.post(t, other); w.Code != http.StatusOK {
		t.Errorf("other action: %d", w.Code)
	}
	badValue := button("U0BOB", slackacts.ActionApprove, "1750000000.000101")
	badValue.ActionCallback.BlockActions[0].Value = `{"r":"x"}`
	if w := f.post(t, badValue); w.Code != http.StatusOK {
		t.Errorf("bad value: %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader("payload=%7Bnot+json"))
	stamp := "1750000000"
	r.Header.Set("X-Slack-Request-Timestamp", stamp)
	r.Header.Set("X-Slack-Signature", "v0="+hexSign(secret, stamp, "payload=%7Bnot+json"))
	if w := f.serve(r); w.Code != http.StatusBadRequest {
		t.Errorf("signed garbage: %d", w.Code)
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 0 {
		t.Errorf("Decide called %d times", n)
	}
}

// TestSignatureAgreesWithSlackGo checks the test helper and verify against
// slack-go's own verifier, so both implement Slack's scheme, not a private one.
func TestSignatureAgreesWithSlackGo(t *testing.T) {
	now := time.Now()
	r := signed(t, secret, now, button("U0BOB", slackacts.ActionApprove, "1"))
	body := formBody(t, button("U0BOB", slackacts.ActionApprove, "1"))
	sv, err := goslack.NewSecretsVerifier(r.Header, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := sv.Ensure(); err != nil {
		t.Errorf("slack-go refuses our signature: %v", err)
	}
	if err := verify(r.Header, body, secret, now); err != nil {
		t.Errorf("verify refuses a good signature: %v", err)
	}
}

func TestNewNeedsSecretDeciderAndClient(t *testing.T) {
	ok := Config{SigningSecret: secret, Decider: &decider{}, Slack: goslack.New(token)}
	for name, mutate := range map[string]func(*Config){
		"secret":  func(c *Config) { c.SigningSecret = "" },
		"decider": func(c *Config) { c.Decider = nil },
		"slack":   func(c *Config) { c.Slack = nil },
	} {
		c := ok
		mutate(&c)
		if _, err := New(c); err == nil {
			t.Errorf("New without %s succeeded", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Error(err)
	}
}

func TestLoadSecrets(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := LoadSecrets(env(nil)); err == nil || !strings.Contains(err.Error(), EnvSigningSecret) {
		t.Errorf("unset: %v", err)
	}
	s, err := LoadSecrets(env(map[string]string{EnvSigningSecret: secret}))
	if err != nil || s.SigningSecret != secret {
		t.Errorf("from env: %v", err)
	}
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = LoadSecrets(env(map[string]string{EnvSigningSecretFile: path}))
	if err != nil || s.SigningSecret != secret {
		t.Errorf("from file: %v", err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", s, s, s, s), s.LogValue().String()} {
		if strings.Contains(out, secret) {
			t.Errorf("Secrets prints the secret: %q", out)
		}
	}
}

func TestDedupIsBounded(t *testing.T) {
	d := newDedup()
	now := time.Unix(0, 0)
	for i := range dedupMax + 10 {
		d.first(strconv.Itoa(i), now)
	}
	if len(d.seen) > dedupMax || len(d.order) > dedupMax {
		t.Errorf("dedup holds %d / %d entries, max %d", len(d.seen), len(d.order), dedupMax)
	}
	if d.first(strconv.Itoa(dedupMax+9), now) {
		t.Error("a recent key was forgotten")
	}
}
