package slack

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/runbookhq/runbook/internal/testenv/slackfake"
)

const testToken = "xoxb-test-0123456789"

// setup starts a fake Slack and activities that talk to it with token.
func setup(t *testing.T, token string) (*slackfake.Server, *Activities, *testsuite.TestActivityEnvironment) {
	t.Helper()
	fake := slackfake.New(testToken)
	t.Cleanup(fake.Stop)
	a, err := New(Options{APIURL: fake.URL(), Getenv: env(map[string]string{EnvBotToken: token})})
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	ae := s.NewTestActivityEnvironment()
	ae.RegisterActivity(a)
	return fake, a, ae
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPostUpdateAndThread(t *testing.T) {
	fake, a, ae := setup(t, testToken)
	m := waiting()
	v, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: m})
	if err != nil {
		t.Fatal(err)
	}
	var posted PostGateResult
	if err := v.Get(&posted); err != nil || posted.Channel != "C0DEPLOY" || posted.TS == "" {
		t.Fatalf("PostGate = %+v, %v", posted, err)
	}
	msg, ok := fake.Message(posted.Channel, posted.TS)
	if !ok || !strings.Contains(msg.Form.Get("text"), "Approval needed") {
		t.Fatalf("posted message = %+v", msg)
	}
	if blocks, err := msg.Blocks(); err != nil || findButton(blocks.BlockSet, ActionApprove) == nil {
		t.Errorf("posted blocks lack the Approve button (%v)", err)
	}

	m.State, m.Approvals = StateApproved, []Approval{{Actor: "bob", At: at}, {Actor: "carol", At: at}}
	if _, err := ae.ExecuteActivity(a.UpdateGate, UpdateGateInput{Channel: posted.Channel, TS: posted.TS, Message: m}); err != nil {
		t.Fatal(err)
	}
	msg, _ = fake.Message(posted.Channel, posted.TS)
	blocks, err := msg.Blocks()
	if err != nil || findButton(blocks.BlockSet, ActionApprove) != nil {
		t.Errorf("updated message still has buttons (%v)", err)
	}
	if !strings.Contains(msg.Form.Get("text"), "approved by bob, carol") {
		t.Errorf("updated text = %q", msg.Form.Get("text"))
	}

	if _, err := ae.ExecuteActivity(a.PostThread, PostThreadInput{Channel: posted.Channel, ThreadTS: posted.TS, Text: "canary at 10%"}); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls(slackfake.PostMessage)
	last := calls[len(calls)-1]
	if last.Form.Get("thread_ts") != posted.TS || last.Form.Get("text") != "canary at 10%" {
		t.Errorf("thread reply = %v", last.Form)
	}
}

func TestUpdateUnknownMessageIsNonRetryable(t *testing.T) {
	_, a, ae := setup(t, testToken)
	_, err := ae.ExecuteActivity(a.UpdateGate, UpdateGateInput{Channel: "C0DEPLOY", TS: "1.2", Message: waiting()})
	assertAppErr(t, err, ErrTypeInvalid, true, "can no longer be updated")
}

func TestInvalidAuthIsNonRetryableAndHidesToken(t *testing.T) {
	const wrong = "xoxb-wrong-9876543210"
	_, a, ae := setup(t, wrong)
	_, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: waiting()})
	assertAppErr(t, err, ErrTypeInvalid, true, "SLACK_BOT_TOKEN")
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows a token: %v", err)
	}
}

func TestChannelErrorsAreNonRetryable(t *testing.T) {
	for code, hint := range map[string]string{
		"channel_not_found": "not found",
		"not_in_channel":    "/invite",
		"missing_scope":     "chat:write",
	} {
		fake, a, ae := setup(t, testToken)
		fake.Fail(slackfake.PostMessage, slackfake.Failure{Error: code})
		_, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: waiting()})
		assertAppErr(t, err, ErrTypeInvalid, true, hint)
	}
}

func TestTransientErrorsRetry(t *testing.T) {
	fake, a, ae := setup(t, testToken)
	fake.Fail(slackfake.PostMessage, slackfake.Failure{Status: 429, RetryAfter: 7})
	_, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: waiting()})
	appErr := assertAppErr(t, err, ErrTypeRateLimited, false, "rate limit")
	if appErr != nil && appErr.NextRetryDelay() != 7*time.Second {
		t.Errorf("NextRetryDelay = %s, want Slack's Retry-After", appErr.NextRetryDelay())
	}

	fake.Fail(slackfake.PostMessage, slackfake.Failure{Status: 503})
	_, err = ae.ExecuteActivity(a.PostThread, PostThreadInput{Channel: "C0DEPLOY", ThreadTS: "1.2", Text: "x"})
	assertAppErr(t, err, ErrTypeUnavailable, false, "chat.postMessage")

	fake.Fail(slackfake.PostMessage, slackfake.Failure{Error: "internal_error"})
	_, err = ae.ExecuteActivity(a.PostThread, PostThreadInput{Channel: "C0DEPLOY", ThreadTS: "1.2", Text: "x"})
	assertAppErr(t, err, ErrTypeUnavailable, false, "internal_error")
}

func TestInputThatCannotWork(t *testing.T) {
	fake, a, ae := setup(t, testToken)
	_, err := ae.ExecuteActivity(a.PostGate, PostGateInput{Message: waiting()})
	assertAppErr(t, err, ErrTypeInvalid, true, "no Slack channel")
	m := waiting()
	m.EnvWorkflowID = ""
	_, err = ae.ExecuteActivity(a.PostGate, PostGateInput{Channel: "C0DEPLOY", Message: m})
	assertAppErr(t, err, ErrTypeInvalid, true, "environment workflow id")
	_, err = ae.ExecuteActivity(a.UpdateGate, UpdateGateInput{Channel: "C0DEPLOY", Message: waiting()})
	assertAppErr(t, err, ErrTypeInvalid, true, "TS")
	if n := len(fake.Calls(slackfake.PostMessage)); n != 0 {
		t.Errorf("%d calls reached Slack", n)
	}
	_, err = (*Activities)(nil).PostGate(t.Context(), PostGateInput{Channel: "C", Message: waiting()})
	assertAppErr(t, err, ErrTypeInvalid, true, "SLACK_BOT_TOKEN")
}

func TestNewReadsTokenFromEnvOrFile(t *testing.T) {
	if _, err := New(Options{Getenv: env(nil)}); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("no token: err = %v, want ErrNotConfigured", err)
	}
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSecret(env(map[string]string{EnvBotTokenFile: path}), EnvBotToken)
	if err != nil || got != testToken {
		t.Errorf("from file: %q, %v", got, err)
	}
	_, err = LoadSecret(env(map[string]string{EnvBotToken: testToken, EnvBotTokenFile: path}), EnvBotToken)
	if err == nil || strings.Contains(err.Error(), testToken) {
		t.Errorf("both set: err = %v", err)
	}
	_, err = LoadSecret(env(map[string]string{EnvBotTokenFile: filepath.Join(t.TempDir(), "missing")}), EnvBotToken)
	if err == nil || !strings.Contains(err.Error(), EnvBotTokenFile) {
		t.Errorf("missing file: err = %v", err)
	}
}

func assertAppErr(t *testing.T, err error, typ string, nonRetryable bool, contains string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Errorf("err = %v, want an ApplicationError", err)
		return nil
	}
	if appErr.Type() != typ || appErr.NonRetryable() != nonRetryable || !strings.Contains(appErr.Message(), contains) {
		t.Errorf("err type %q non-retryable %v message %q; want %q %v containing %q",
			appErr.Type(), appErr.NonRetryable(), appErr.Message(), typ, nonRetryable, contains)
	}
	return appErr
}
