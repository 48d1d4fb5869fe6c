package slackin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

// wait bounds every wait on the socket; nothing sleeps.
const wait = 10 * time.Second

// runSocket runs f.h.RunSocketMode against the fake until the test ends (or
// stop is called) and waits for its first connection. stop cancels it and
// returns what RunSocketMode returned.
func runSocket(t *testing.T, f *fixture) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.h.RunSocketMode(ctx, slackfake.DefaultAppToken, SocketAPIURL(f.slack.URL()))
	}()
	var (
		stopped bool
		result  error
	)
	stop = func() error {
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(wait):
			result = errors.New("RunSocketMode did not return after its context ended")
		}
		return result
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	if err := f.slack.WaitSocket(1, wait); err != nil {
		t.Fatal(err)
	}
	return stop
}

// sendAck sends ic down the socket and returns the payload of its ack.
func sendAck(t *testing.T, f *fixture, ic goslack.InteractionCallback) (string, json.RawMessage) {
	t.Helper()
	env, err := f.slack.SendInteraction(ic)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := f.slack.WaitAck(env, wait)
	if err != nil {
		t.Fatal(err)
	}
	return env, payload
}

func TestSocketApproveAcksThenDecides(t *testing.T) {
	f := newFixture(t)
	runSocket(t, f)
	_, payload := sendAck(t, f, button("U0BOB", slackacts.ActionApprove, "1750000000.000100"))
	if len(payload) != 0 {
		t.Errorf("ack payload = %s, want none", payload)
	}
	// The ack is sent after the decision has started in the background, so
	// Wait covers it.
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
	if len(eph) != 1 || eph[0].Form.Get("user") != "U0BOB" || !strings.Contains(eph[0].Form.Get("text"), "You approved gate release-manager") {
		t.Errorf("ephemeral answers = %+v", eph)
	}
	if a := f.audit.all(); len(a) != 1 || a[0].outcome != OutcomeDecided {
		t.Errorf("audit = %+v", a)
	}
	if calls := f.slack.Calls(slackfake.AppsConnectionsOpen); len(calls) != 1 {
		t.Errorf("apps.connections.open called %d times, want 1", len(calls))
	}
}

func TestSocketAnswersWhileDecideIsBlocked(t *testing.T) {
	f := newFixture(t)
	f.dec.entered, f.dec.release = make(chan struct{}, 2), make(chan struct{})
	runSocket(t, f)
	sendAck(t, f, button("U0BOB", slackacts.ActionApprove, "1750000000.000100"))
	select {
	case <-f.dec.entered:
	case <-time.After(wait):
		t.Fatal("Decide never ran after the ack")
	}
	// Decide is blocked; the socket still answers.
	sendAck(t, f, button("U0BOB", slackacts.ActionApprove, "1750000000.000200"))
	close(f.dec.release)
	f.h.Wait()
	if n := len(f.dec.calls()); n != 2 {
		t.Errorf("Decide called %d times, want 2", n)
	}
}

func TestSocketDoubleDeliveryDecidesOnce(t *testing.T) {
	f := newFixture(t)
	runSocket(t, f)
	click := button("U0BOB", slackacts.ActionApprove, "1750000000.000100")
	env, _ := sendAck(t, f, click)
	if err := f.slack.Redeliver(env); err != nil {
		t.Fatal(err)
	}
	if _, err := f.slack.WaitAcks(env, 2, wait); err != nil {
		t.Fatal(err)
	}
	// The same interaction in another envelope is the same click too.
	sendAck(t, f, click)
	f.h.Wait()
	if n := len(f.dec.calls()); n != 1 {
		t.Errorf("Decide called %d times for one click delivered three times", n)
	}
	if n := len(f.slack.Calls(slackfake.PostEphemeral)); n != 1 {
		t.Errorf("%d ephemeral answers, want 1", n)
	}
}

func TestSocketRejectAsksForReasonThenDecides(t *testing.T) {
	f := newFixture(t)
	runSocket(t, f)
	sendAck(t, f, button("U0BOB", slackacts.ActionReject, "1750000000.000200"))
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
	if req.TriggerID != "trig-1750000000.000200" || req.View.CallbackID != CallbackReject || !hasRequiredReason(req.View) {
		t.Errorf("views.open: %s", opened[0].JSON)
	}

	// Without a reason the ack keeps the dialog open with an error.
	_, payload := sendAck(t, f, submission("U0BOB", req.View.PrivateMetadata, "  ", "trig-sub-0"))
	var resp goslack.ViewSubmissionResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		t.Fatalf("ack payload %q: %v", payload, err)
	}
	if resp.ResponseAction != goslack.RAErrors || resp.Errors[reasonBlock] == "" {
		t.Errorf("ack payload = %s, want errors on %q", payload, reasonBlock)
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 0 {
		t.Fatalf("Decide called %d times for an empty reason", n)
	}

	_, payload = sendAck(t, f, submission("U0BOB", req.View.PrivateMetadata, "  error rate up  ", "trig-sub-1"))
	if len(payload) != 0 {
		t.Errorf("ack payload = %s, want none (closes the dialog)", payload)
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

func TestSocketRefusalIsToldAndAudited(t *testing.T) {
	const why = "approve refused: alice started this release and may not approve it (separation of duties; set policy.allow-self-approval to change)"
	f := newFixture(t)
	f.dec.err = errors.New(why)
	runSocket(t, f)
	sendAck(t, f, button("U0ALICE", slackacts.ActionApprove, "1750000000.000100"))
	f.h.Wait()
	eph := f.slack.Calls(slackfake.PostEphemeral)
	if len(eph) != 1 || eph[0].Form.Get("user") != "U0ALICE" || eph[0].Form.Get("channel") != channel ||
		eph[0].Form.Get("text") != "Not recorded: "+why {
		t.Errorf("ephemeral answers = %+v", eph)
	}
	a := f.audit.all()
	if len(a) != 1 || a[0].outcome != OutcomeRefused || a[0].err == nil || a[0].err.Error() != why || a[0].click.Actor != "slack:U0ALICE" {
		t.Errorf("audit = %+v", a)
	}
}

func TestSocketIgnoresOtherInteractions(t *testing.T) {
	f := newFixture(t)
	runSocket(t, f)
	for _, ic := range []goslack.InteractionCallback{
		{Type: goslack.InteractionTypeShortcut, User: goslack.User{ID: "U0BOB"}},
		button("U0BOB", "something.else", "1750000000.000100"),
		{Type: goslack.InteractionTypeViewSubmission, User: goslack.User{ID: "U0BOB"}, View: goslack.View{CallbackID: "other"}},
	} {
		if _, payload := sendAck(t, f, ic); len(payload) != 0 {
			t.Errorf("%s: ack payload = %s", ic.Type, payload)
		}
	}
	f.h.Wait()
	if n := len(f.dec.calls()); n != 0 {
		t.Errorf("Decide called %d times", n)
	}
	if n := len(f.slack.Calls(slackfake.PostEphemeral)) + len(f.slack.Calls(slackfake.ViewsOpen)); n != 0 {
		t.Errorf("%d calls to Slack", n)
	}
}

func TestSocketReconnectsWhenSlackAsks(t *testing.T) {
	f := newFixture(t)
	runSocket(t, f)
	if err := f.slack.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := f.slack.WaitSocket(2, wait); err != nil {
		t.Fatal(err)
	}
	sendAck(t, f, button("U0BOB", slackacts.ActionApprove, "1750000000.000100"))
	f.h.Wait()
	if n := len(f.dec.calls()); n != 1 {
		t.Errorf("Decide called %d times after reconnecting, want 1", n)
	}
}

func TestSocketStopsWithContext(t *testing.T) {
	f := newFixture(t)
	stop := runSocket(t, f)
	if err := stop(); err != nil {
		t.Errorf("RunSocketMode = %v, want nil once its context ends", err)
	}
	if _, err := f.slack.SendInteraction(button("U0BOB", slackacts.ActionApprove, "1750000000.000100")); err == nil {
		// The fake may not have seen the close yet; nothing must be decided
		// either way.
		f.h.Wait()
	}
	if n := len(f.dec.calls()); n != 0 {
		t.Errorf("Decide called %d times after stopping", n)
	}
}

func TestSocketModeRefusedToken(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := f.h.RunSocketMode(ctx, "xapp-1-not-the-token", SocketAPIURL(f.slack.URL()))
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") || ctx.Err() != nil {
		t.Errorf("RunSocketMode with a refused token = %v, want invalid_auth before the deadline", err)
	}
	for _, tok := range []string{"", "xoxb-a-bot-token"} {
		if err := f.h.RunSocketMode(ctx, tok); err == nil || !strings.Contains(err.Error(), EnvAppToken) {
			t.Errorf("RunSocketMode(%q) = %v", tok, err)
		}
	}
}

func TestLoadSecretsAppToken(t *testing.T) {
	const app = "xapp-1-A0APP-1-deadbeefcafe"
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := LoadSecrets(env(map[string]string{EnvSigningSecret: secret}))
	if err != nil || s.AppToken != "" {
		t.Errorf("without an app token: %q %v", s.AppToken, err)
	}
	s, err = LoadSecrets(env(map[string]string{EnvSigningSecret: secret, EnvAppToken: app}))
	if err != nil || s.AppToken != app || s.SigningSecret != secret {
		t.Errorf("from env: %v", err)
	}
	path := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(path, []byte(app+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = LoadSecrets(env(map[string]string{EnvSigningSecret: secret, EnvAppTokenFile: path}))
	if err != nil || s.AppToken != app {
		t.Errorf("from file: %q %v", s.AppToken, err)
	}
	if _, err := LoadSecrets(env(map[string]string{EnvSigningSecret: secret, EnvAppToken: app, EnvAppTokenFile: path})); err == nil {
		t.Error("both SLACK_APP_TOKEN and SLACK_APP_TOKEN_FILE accepted")
	} else if strings.Contains(err.Error(), app) {
		t.Errorf("error shows the token: %v", err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", s, s, s, s), s.LogValue().String()} {
		if strings.Contains(out, app) {
			t.Errorf("Secrets prints the app token: %q", out)
		}
	}
}
