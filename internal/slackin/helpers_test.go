package slackin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	slackacts "github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/testenv/slackfake"
	"github.com/runbookhq/runbook/workflows"
)

const (
	secret  = "8f742231b10e8888abcd99yyyzzz85a5"
	token   = "xoxb-test-0123456789"
	channel = "C0DEPLOY"
	msgTS   = "1700000000.000001"
)

var route = slackacts.Route{
	ReleaseID: "release/checkout/1.4.2", EnvWorkflowID: "deploy/checkout/production",
	EnvRunID: "0195a0c2-7d1e-7a55-9d0e-3f1c2b4a5d6e", Gate: "release-manager",
}

// fixture is a handler wired to a fake Slack, a recording Decider and a
// settable clock.
type fixture struct {
	h     *Handler
	slack *slackfake.Server
	dec   *decider
	audit *auditLog

	mu  sync.Mutex
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{slack: slackfake.New(token), dec: &decider{}, audit: &auditLog{}, now: time.Unix(1_750_000_000, 0)}
	t.Cleanup(f.slack.Stop)
	h, err := New(Config{
		SigningSecret: secret,
		Decider:       f.dec,
		Identities:    map[string]string{"U0BOB": "bob"},
		Slack:         goslack.New(token, goslack.OptionAPIURL(f.slack.URL())),
		Now:           f.clock,
		Audit:         f.audit.record,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	t.Cleanup(h.Wait)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// post sends a request signed now and returns the response.
func (f *fixture) post(t *testing.T, ic goslack.InteractionCallback) *httptest.ResponseRecorder {
	t.Helper()
	return f.serve(signed(t, secret, f.clock(), ic))
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// signed builds a request the way Slack sends it: the payload as a form
// field, signed with v0 HMAC-SHA256 over "v0:<timestamp>:<body>".
func signed(t *testing.T, key string, at time.Time, ic goslack.InteractionCallback) *http.Request {
	t.Helper()
	body := formBody(t, ic)
	stamp := strconv.FormatInt(at.Unix(), 10)
	r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Slack-Request-Timestamp", stamp)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(sign(key, stamp, body)))
	return r
}

func formBody(t *testing.T, ic goslack.InteractionCallback) []byte {
	t.Helper()
	payload, err := json.Marshal(&ic)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}

// button is a click on one of the gate message's buttons.
func button(user, actionID, actionTS string) goslack.InteractionCallback {
	return goslack.InteractionCallback{
		Type:        goslack.InteractionTypeBlockActions,
		User:        goslack.User{ID: user},
		TriggerID:   "trig-" + actionTS,
		ResponseURL: "https://hooks.slack.com/actions/T0/1/abc",
		Container:   goslack.Container{Type: "message", ChannelID: channel, MessageTs: msgTS},
		ActionCallback: goslack.ActionCallbacks{BlockActions: []*goslack.BlockAction{{
			ActionID: actionID, BlockID: slackacts.ActionsBlockID, Value: route.Encode(), ActionTs: actionTS,
		}}},
	}
}

// submission is the reason dialog submitted with reason.
func submission(user, meta, reason, triggerID string) goslack.InteractionCallback {
	return goslack.InteractionCallback{
		Type:      goslack.InteractionTypeViewSubmission,
		User:      goslack.User{ID: user},
		TriggerID: triggerID,
		View: goslack.View{ID: "V1", CallbackID: CallbackReject, PrivateMetadata: meta,
			State: &goslack.ViewState{Values: map[string]map[string]goslack.BlockAction{
				reasonBlock: {reasonAction: {ActionID: reasonAction, Value: reason}},
			}}},
	}
}

// decider records clicks; it can fail, or block until released.
type decider struct {
	mu      sync.Mutex
	clicks  []Click
	err     error
	entered chan struct{} // if set, receives a value when Decide starts
	release chan struct{} // if set, Decide waits for it to close
}

func (d *decider) Decide(ctx context.Context, c Click) (workflows.DecisionResult, error) {
	d.mu.Lock()
	d.clicks = append(d.clicks, c)
	err, entered, release := d.err, d.entered, d.release
	d.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return workflows.DecisionResult{}, ctx.Err()
		}
	}
	if err != nil {
		return workflows.DecisionResult{}, err
	}
	state := workflows.StateWaiting
	if !c.Approve {
		state = workflows.StateRejected
	}
	return workflows.DecisionResult{Gate: c.Gate, GateState: state, Approvals: 1, Needed: 2}, nil
}

func (d *decider) calls() []Click {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Click(nil), d.clicks...)
}

type auditEntry struct {
	click   Click
	outcome string
	err     error
}

type auditLog struct {
	mu      sync.Mutex
	entries []auditEntry
}

func (a *auditLog) record(_ context.Context, c Click, outcome string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, auditEntry{c, outcome, err})
}

func (a *auditLog) all() []auditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]auditEntry(nil), a.entries...)
}

func readBody(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	b, err := io.ReadAll(w.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func hexSign(key, stamp, body string) string {
	return hex.EncodeToString(sign(key, stamp, []byte(body)))
}
