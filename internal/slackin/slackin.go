// Package slackin receives Slack interactions (POST /slack/interactions):
// clicks on the Approve / Reject buttons of a gate message posted by
// activities/slack, and the reason dialog of Reject. Every request is
// verified with the app's signing secret before anything else happens, and
// answered at once; the decision, a workflow Update that may take seconds,
// runs afterwards and its outcome reaches the person as an ephemeral message.
// An app without a public URL can use Socket Mode instead (RunSocketMode):
// the same interactions arrive over a websocket the app opens with its
// app-level token, and go through the same logic.
//
// Authorization is not decided here: the Update validator of the environment
// workflow refuses people who may not decide, without writing to history.
// This package only maps Slack users to runbook identities.
package slackin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/runbookhq/runbook/workflows"
)

// Path is where the worker mounts the handler; it is the Request URL of the
// Slack app's Interactivity settings.
const Path = "/slack/interactions"

// Limits of one request and of the work after it.
const (
	// MaxBody bounds a request; block_actions payloads carry the whole
	// message, well under this.
	MaxBody = 1 << 20
	// DecideTimeout bounds the Update after the ack.
	DecideTimeout = 30 * time.Second
	// writeBackTimeout bounds each call back to Slack.
	writeBackTimeout = 10 * time.Second
	// modalTimeout: a trigger_id expires 3 seconds after the click.
	modalTimeout = 3 * time.Second
)

// Click is one decision made in Slack, routed to its gate.
type Click struct {
	SlackUserID string
	// Actor is the runbook identity of the Slack user: Config.Identities'
	// entry, or "slack:<user id>".
	Actor string
	// Approve is false for a rejection, which carries a Reason.
	Approve bool
	Reason  string
	// ReleaseID, EnvWorkflowID, EnvRunID and Gate come from the button.
	ReleaseID     string
	EnvWorkflowID string
	EnvRunID      string
	Gate          string
	// Channel and MessageTS locate the gate message; ResponseURL is Slack's
	// URL for replies to this interaction (valid 30 minutes).
	Channel     string
	MessageTS   string
	ResponseURL string
	// DeliveryID identifies the click (Slack user and action_ts, or the
	// dialog's trigger_id); it is the same on a redelivery, so an audit
	// entry can use it as its idempotency key.
	DeliveryID string
}

// Decider sends a click's decision to the workflow. A refused decision is an
// error whose text is shown to the person as is, so it should say why (the
// Update validator's sentence does).
type Decider interface {
	Decide(ctx context.Context, c Click) (workflows.DecisionResult, error)
}

// DeciderFunc adapts a function to Decider.
type DeciderFunc func(ctx context.Context, c Click) (workflows.DecisionResult, error)

// Decide calls f.
func (f DeciderFunc) Decide(ctx context.Context, c Click) (workflows.DecisionResult, error) {
	return f(ctx, c)
}

// Outcomes passed to Config.Audit.
const (
	OutcomeDecided = "decided"
	OutcomeRefused = "refused"
	// OutcomeFailed: no answer in time, so the decision may or may not
	// have been applied.
	OutcomeFailed = "failed"
)

// Config configures a Handler.
type Config struct {
	// SigningSecret verifies requests (Secrets.SigningSecret).
	SigningSecret string
	Decider       Decider
	// Identities maps Slack user IDs to runbook identities, the names the
	// runbooks list as approvers.
	Identities map[string]string
	// Slack posts ephemeral answers and opens the reason dialog.
	Slack *goslack.Client
	// Now is the clock for the signature window and deduplication; nil
	// means time.Now.
	Now func() time.Time
	// Audit, if set, hears the outcome of every decision. Decisions that
	// reach the workflow are audited by the workflow too; refusals leave no
	// trace there, so this is where they are recorded.
	Audit func(ctx context.Context, c Click, outcome string, err error)
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Handler serves Slack interactions. Deliveries are deduplicated in memory
// for ten minutes (by user and action_ts, or by trigger_id for dialogs);
// across worker restarts the Update validator does it: a second approval by
// the same person, or a decision on a closed gate, is refused.
type Handler struct {
	cfg   Config
	seen  *dedup
	tasks sync.WaitGroup
}

// New checks cfg and returns its handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.SigningSecret == "":
		return nil, errors.New("slack interactions need the signing secret: set " + EnvSigningSecret)
	case cfg.Decider == nil:
		return nil, errors.New("slackin: Config.Decider is required")
	case cfg.Slack == nil:
		return nil, errors.New("slackin: Config.Slack is required to answer people")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg, seen: newDedup()}, nil
}

// Wait blocks until the decisions and answers started by past requests are
// done. Call it after stopping the HTTP server, before closing the Temporal
// client.
func (h *Handler) Wait() { h.tasks.Wait() }

// ServeHTTP verifies the request, answers it, and leaves slow work to a
// goroutine: Slack shows an error if the answer takes over 3 seconds.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if err := verify(r.Header, body, h.cfg.SigningSecret, h.cfg.Now()); err != nil {
		h.cfg.Logger.Warn("slack interaction refused", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "slack signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	ic, err := parse(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeAnswer(w, h.dispatch(ic))
}

// parse reads the form's payload field.
func parse(body []byte) (goslack.InteractionCallback, error) {
	var ic goslack.InteractionCallback
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return ic, errors.New("expected a form with a payload field")
	}
	if err := ic.UnmarshalJSON([]byte(form.Get("payload"))); err != nil {
		return ic, fmt.Errorf("payload is not a Slack interaction: %w", err)
	}
	return ic, nil
}

// background runs fn after the answer, with its own bounded context: the
// request's context ends when the handler returns.
func (h *Handler) background(timeout time.Duration, fn func(ctx context.Context)) {
	h.tasks.Add(1)
	go func() {
		defer h.tasks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		fn(ctx)
	}()
}

// actor maps a Slack user to the identity the runbooks name.
func (h *Handler) actor(userID string) string {
	if id, ok := h.cfg.Identities[userID]; ok && id != "" {
		return id
	}
	return "slack:" + userID
}
