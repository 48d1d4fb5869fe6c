// Package slackfake is a Slack Web API for tests, on 127.0.0.1. It is
// slacktest's server with the methods runbook uses replaced or added through
// slacktest's customization hook: slacktest has no chat.update and no
// views.open, and its chat.postMessage and chat.postEphemeral hand messages
// to a websocket feed instead of letting a test read them. Here every call is
// recorded, messages are stored with their metadata so chat.update and
// conversations.history (history.go) can find them, the bot token is checked,
// and any method can be made to fail. It also serves Socket Mode (socket.go):
// apps.connections.open and a websocket on which a test sends interactions
// and reads their acknowledgements.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Methods the fake implements itself.
const (
	PostMessage   = "chat.postMessage"
	Update        = "chat.update"
	PostEphemeral = "chat.postEphemeral"
	ViewsOpen     = "views.open"
)

// Call is one recorded API call.
type Call struct {
	Method string
	// Form holds form-encoded parameters, without the token.
	Form url.Values
	// JSON is the body of JSON-encoded calls (views.open).
	JSON []byte
}

// Blocks decodes the call's blocks parameter.
func (c Call) Blocks() (goslack.Blocks, error) {
	var b goslack.Blocks
	err := json.Unmarshal([]byte(c.Form.Get("blocks")), &b)
	return b, err
}

// Metadata decodes the call's message metadata parameter; ok is false when
// the call carried none.
func (c Call) Metadata() (md goslack.SlackMetadata, ok bool, err error) {
	raw := c.Form.Get("metadata")
	if raw == "" {
		return md, false, nil
	}
	err = json.Unmarshal([]byte(raw), &md)
	return md, err == nil, err
}

// Failure is how a method answers instead of succeeding.
type Failure struct {
	// Error is Slack's error code, e.g. "channel_not_found".
	Error string
	// Status, if set, is the HTTP status (429 or 5xx), with RetryAfter
	// seconds for 429.
	Status     int
	RetryAfter int
}

// Server is the fake Slack API.
type Server struct {
	*slacktest.Server
	// Token is the bot token calls must carry; others get invalid_auth.
	Token string
	// AppToken is the app-level token apps.connections.open must carry;
	// New sets DefaultAppToken.
	AppToken string

	mu       sync.Mutex
	calls    []Call
	changed  chan struct{} // closed and replaced on every call
	failures map[string]Failure
	messages map[string]*message // by channel + "/" + ts
	history  map[string][]string // channel → ts of its messages, oldest first
	lastTS   int64               // microseconds since the epoch
	sock     socketState
	groups   map[string][]string // user group → members
	scopes   []string            // auth.test's X-OAuth-Scopes; nil: DefaultScopes
}

// New starts a fake that accepts token. Stop it when done.
func New(token string) *Server {
	s := &Server{Token: token, AppToken: DefaultAppToken, changed: make(chan struct{}), failures: map[string]Failure{}, messages: map[string]*message{}, history: map[string][]string{},
		sock: socketState{envelopes: map[string]envelope{}, acks: map[string][]json.RawMessage{}}}
	// Binders run before slacktest registers its defaults, and the first
	// registration of a path wins: these replace its handlers.
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/"+PostMessage, s.handle(PostMessage, s.postMessage))
		c.Handle("/"+Update, s.handle(Update, s.update))
		c.Handle("/"+PostEphemeral, s.handle(PostEphemeral, s.postEphemeral))
		c.Handle("/"+ViewsOpen, s.handle(ViewsOpen, s.viewsOpen))
		c.Handle("/"+AppsConnectionsOpen, s.handle(AppsConnectionsOpen, s.appsConnectionsOpen))
		c.Handle("/"+UserGroupsUsersList, s.handle(UserGroupsUsersList, s.groupMembers))
		c.Handle("/"+ConversationsHistory, s.handle(ConversationsHistory, s.conversationsHistory))
		c.Handle("/"+AuthTest, s.authTest())
		c.Handle(socketPath, s.serveSocket)
	})
	s.Start()
	return s
}

// URL is the API URL to give the client (slack.OptionAPIURL).
func (s *Server) URL() string { return s.GetAPIURL() }

// Fail makes method answer f from now on; a zero Failure restores it.
func (s *Server) Fail(method string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = f
}

// Calls returns the recorded calls of method.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Wait returns the calls of method once there are at least n, or an error
// when timeout passes first.
func (s *Server) Wait(method string, n int, timeout time.Duration) ([]Call, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if calls := s.Calls(method); len(calls) >= n {
			return calls, nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return s.Calls(method), fmt.Errorf("%s: %d call(s) after %s, want %d", method, len(s.Calls(method)), timeout, n)
		}
	}
}

// Message returns the current content of a posted message: the call that
// posted it or last updated it.
func (s *Server) Message(channel, ts string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel+"/"+ts]
	if !ok {
		return Call{}, false
	}
	return m.content, true
}

// message is a stored message. Its metadata is kept apart from its content
// because chat.update without metadata keeps the message's metadata, as
// Slack does.
type message struct {
	ts       string
	content  Call
	metadata json.RawMessage // nil when none
}

// answer is what a method handler returns: a JSON object merged with ok.
type answer map[string]any

// handle records the call, checks the token and the configured failure, and
// writes the method's answer.
func (s *Server) handle(method string, fn func(Call) answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		call, token, err := read(method, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		f := s.failures[method]
		s.mu.Unlock()
		want := s.Token
		if method == AppsConnectionsOpen {
			want = s.AppToken
		}
		var a answer
		switch {
		case f.Status != 0:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			w.WriteHeader(f.Status)
		case token != want:
			a = answer{"ok": false, "error": "invalid_auth"}
		case f.Error != "":
			a = answer{"ok": false, "error": f.Error}
		default:
			a = fn(call)
		}
		s.record(call)
		if a != nil {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(a)
		}
	}
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
}

// read parses a form or JSON call and returns the token it carried.
func read(method string, r *http.Request) (Call, string, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return Call{}, "", err
	}
	call := Call{Method: method}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		call.JSON = body
		return call, token, nil
	}
	call.Form, err = url.ParseQuery(string(body))
	if err != nil {
		return Call{}, "", err
	}
	if t := call.Form.Get("token"); t != "" {
		token = t
	}
	call.Form.Del("token")
	return call, token, nil
}

// postMessage stores a top-level message (thread replies are only
// recorded) under a timestamp from the wall clock, unique and increasing
// like Slack's, so that conversations.history's oldest works with real
// times.
func (s *Server) postMessage(c Call) answer {
	md, ok := metadataOf(c)
	if !ok {
		return answer{"ok": false, "error": "invalid_metadata_format"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastTS = max(s.lastTS+1, time.Now().UnixMicro())
	ts := fmt.Sprintf("%d.%06d", s.lastTS/1e6, s.lastTS%1e6)
	ch := c.Form.Get("channel")
	if c.Form.Get("thread_ts") == "" {
		s.messages[ch+"/"+ts] = &message{ts: ts, content: c, metadata: md}
		s.history[ch] = append(s.history[ch], ts)
	}
	return answer{"ok": true, "channel": ch, "ts": ts}
}

// update replaces a message's content; its metadata changes only when the
// call carries metadata, and "{}" removes it.
func (s *Server) update(c Call) answer {
	ch, ts := c.Form.Get("channel"), c.Form.Get("ts")
	md, ok := metadataOf(c)
	if !ok {
		return answer{"ok": false, "error": "invalid_metadata_format"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, found := s.messages[ch+"/"+ts]
	if !found {
		return answer{"ok": false, "error": "message_not_found"}
	}
	m.content = c
	if c.Form.Has("metadata") {
		m.metadata = md
	}
	return answer{"ok": true, "channel": ch, "ts": ts, "text": c.Form.Get("text")}
}

// metadataOf returns the call's message metadata, nil when it has none or
// an empty object; ok is false when the metadata is not a JSON object.
func metadataOf(c Call) (md json.RawMessage, ok bool) {
	raw := c.Form.Get("metadata")
	if raw == "" {
		return nil, true
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil {
		return nil, false
	}
	if len(obj) == 0 {
		return nil, true
	}
	return json.RawMessage(raw), true
}

func (s *Server) postEphemeral(c Call) answer {
	return answer{"ok": true, "message_ts": "1700000000.999999"}
}

func (s *Server) viewsOpen(c Call) answer {
	var req struct {
		TriggerID string                   `json:"trigger_id"`
		View      goslack.ModalViewRequest `json:"view"`
	}
	if err := json.Unmarshal(c.JSON, &req); err != nil || req.TriggerID == "" {
		return answer{"ok": false, "error": "invalid_arguments"}
	}
	return answer{"ok": true, "view": map[string]any{
		"id": "V" + req.TriggerID, "type": "modal", "callback_id": req.View.CallbackID,
		"private_metadata": req.View.PrivateMetadata,
	}}
}
