package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	goslack "github.com/slack-go/slack"
)

// Socket Mode: apps.connections.open answers with the URL of a websocket the
// fake serves on its own 127.0.0.1 listener. A client that connects gets the
// hello message first, then websocket pings every PingInterval, and the
// envelopes a test sends; the acknowledgements it writes back are kept by
// envelope ID.
const (
	AppsConnectionsOpen = "apps.connections.open"
	// DefaultAppToken is the app-level token New accepts for
	// apps.connections.open.
	DefaultAppToken = "xapp-1-A0FAKE-1-0123456789"
	// PingInterval is how often the fake pings a connected client, well
	// under socketmode's 30-second limit.
	PingInterval = 2 * time.Second

	socketPath = "/socket-mode"
)

// ErrNoSocket is returned when no Socket Mode client is connected.
var ErrNoSocket = errors.New("slackfake: no socket mode client is connected")

// socket is one connected Socket Mode client.
type socket struct {
	conn *websocket.Conn
	wmu  sync.Mutex // serializes data frames; control frames need no lock
	done chan struct{}
}

func (k *socket) write(v any) error {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if err := k.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	return k.conn.WriteJSON(v)
}

// envelope is a Socket Mode message from Slack.
type envelope struct {
	Type                   string          `json:"type"`
	EnvelopeID             string          `json:"envelope_id"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason,omitempty"`
}

// socketState is the Socket Mode part of Server, under Server.mu.
type socketState struct {
	sockets   []*socket // connected, oldest first
	envelopes map[string]envelope
	acks      map[string][]json.RawMessage
	lastEnv   int
	tickets   int
	accepted  int // connections ever sent hello
	closed    bool
}

var upgrader = websocket.Upgrader{
	// socketmode sends Origin: https://api.slack.com.
	CheckOrigin: func(*http.Request) bool { return true },
}

// appsConnectionsOpen answers with the fake's websocket URL.
func (s *Server) appsConnectionsOpen(Call) answer {
	s.mu.Lock()
	s.sock.tickets++ // each URL is distinct, like Slack's
	n := s.sock.tickets
	s.mu.Unlock()
	return answer{"ok": true, "url": fmt.Sprintf("ws://%s%s?ticket=%d", s.ServerAddr, socketPath, n)}
}

// serveSocket runs one Socket Mode connection until the client or Stop
// closes it.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	k := &socket{conn: conn, done: make(chan struct{})}
	hello := map[string]any{
		"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0FAKE"},
		"debug_info":      map[string]any{"host": "slackfake", "build_number": 1, "approximate_connection_time": 3600},
	}
	if err := k.write(hello); err != nil {
		_ = conn.Close()
		return
	}
	s.mu.Lock()
	if s.sock.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.sock.sockets = append(s.sock.sockets, k)
	s.sock.accepted++
	s.mu.Unlock()
	defer s.dropSocket(k)
	s.notify()
	go s.ping(k)
	for {
		var msg struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&msg); err != nil {
			return
		}
		if msg.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.sock.acks[msg.EnvelopeID] = append(s.sock.acks[msg.EnvelopeID], msg.Payload)
		s.mu.Unlock()
		s.notify()
	}
}

// ping pings k until it closes.
func (s *Server) ping(k *socket) {
	t := time.NewTicker(PingInterval)
	defer t.Stop()
	for {
		select {
		case <-k.done:
			return
		case <-t.C:
			if err := k.conn.WriteControl(websocket.PingMessage, []byte("slackfake"), time.Now().Add(5*time.Second)); err != nil {
				return
			}
		}
	}
}

func (s *Server) dropSocket(k *socket) {
	s.mu.Lock()
	for i, o := range s.sock.sockets {
		if o == k {
			s.sock.sockets = append(s.sock.sockets[:i:i], s.sock.sockets[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	close(k.done)
	_ = k.conn.Close()
	s.notify()
}

// Stop closes the Socket Mode connections and stops the server.
func (s *Server) Stop() {
	s.mu.Lock()
	s.sock.closed = true
	sockets := append([]*socket(nil), s.sock.sockets...)
	s.mu.Unlock()
	for _, k := range sockets {
		_ = k.conn.Close()
	}
	s.Server.Stop()
}

// WaitSocket returns once the n-th Socket Mode connection since New has been
// accepted and sent hello, or an error when timeout passes first. After a
// reconnection, WaitSocket(2, ...) waits for the new connection, which is
// the one the envelopes go to from then on.
func (s *Server) WaitSocket(n int, timeout time.Duration) error {
	return s.waitFor(timeout, func() bool { return s.sock.accepted >= n },
		func() error {
			return fmt.Errorf("%d socket mode connection(s) after %s, want %d", s.sock.accepted, timeout, n)
		})
}

// SendInteraction sends ic in a new "interactive" envelope to the most
// recently connected Socket Mode client and returns the envelope's ID.
func (s *Server) SendInteraction(ic goslack.InteractionCallback) (string, error) {
	payload, err := json.Marshal(&ic)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.sock.lastEnv++
	env := envelope{
		Type: "interactive", EnvelopeID: fmt.Sprintf("env-%06d", s.sock.lastEnv), Payload: payload,
		AcceptsResponsePayload: ic.Type == goslack.InteractionTypeViewSubmission,
	}
	s.sock.envelopes[env.EnvelopeID] = env
	s.mu.Unlock()
	return env.EnvelopeID, s.send(env)
}

// Redeliver sends an envelope again, as Slack does when an acknowledgement
// is late, with the next retry_attempt.
func (s *Server) Redeliver(envelopeID string) error {
	s.mu.Lock()
	env, ok := s.sock.envelopes[envelopeID]
	if ok {
		env.RetryAttempt++
		env.RetryReason = "timeout"
		s.sock.envelopes[envelopeID] = env
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("slackfake: no envelope %q was sent", envelopeID)
	}
	return s.send(env)
}

// Disconnect asks the connected clients to reconnect, as Slack does before
// it rotates a connection.
func (s *Server) Disconnect() error {
	s.mu.Lock()
	sockets := append([]*socket(nil), s.sock.sockets...)
	s.mu.Unlock()
	if len(sockets) == 0 {
		return ErrNoSocket
	}
	for _, k := range sockets {
		if err := k.write(map[string]any{"type": "disconnect", "reason": "refresh_requested"}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) send(env envelope) error {
	s.mu.Lock()
	var k *socket
	if n := len(s.sock.sockets); n > 0 {
		k = s.sock.sockets[n-1]
	}
	s.mu.Unlock()
	if k == nil {
		return ErrNoSocket
	}
	return k.write(env)
}

// Acks returns the payloads of the acknowledgements of an envelope so far,
// one per acknowledgement; a payload is nil when the acknowledgement had
// none.
func (s *Server) Acks(envelopeID string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.sock.acks[envelopeID]...)
}

// WaitAck returns the payload of the first acknowledgement of an envelope
// (nil if it had none), or an error when timeout passes first.
func (s *Server) WaitAck(envelopeID string, timeout time.Duration) (json.RawMessage, error) {
	acks, err := s.WaitAcks(envelopeID, 1, timeout)
	if err != nil {
		return nil, err
	}
	return acks[0], nil
}

// WaitAcks returns the acknowledgements of an envelope once there are at
// least n, or an error when timeout passes first.
func (s *Server) WaitAcks(envelopeID string, n int, timeout time.Duration) ([]json.RawMessage, error) {
	err := s.waitFor(timeout, func() bool { return len(s.sock.acks[envelopeID]) >= n },
		func() error {
			return fmt.Errorf("envelope %s: %d ack(s) after %s, want %d", envelopeID, len(s.sock.acks[envelopeID]), timeout, n)
		})
	return s.Acks(envelopeID), err
}

// waitFor waits until cond, called under s.mu, holds; fail, also under s.mu,
// makes the error when timeout passes first.
func (s *Server) waitFor(timeout time.Duration, cond func() bool, fail func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, changed := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			return fail()
		}
	}
}

// notify wakes the waiters.
func (s *Server) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
}
