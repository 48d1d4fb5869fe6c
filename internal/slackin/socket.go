package slackin

import (
	"context"
	"errors"
	"strings"
	"time"

	goslack "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// SocketOption configures RunSocketMode.
type SocketOption func(*socketOptions)

type socketOptions struct {
	apiURL string
}

// SocketAPIURL is the Slack API URL on which apps.connections.open is called
// (the one given to slack.OptionAPIURL); the default is Slack's.
func SocketAPIURL(url string) SocketOption {
	return func(o *socketOptions) { o.apiURL = url }
}

// socketAckTimeout bounds the queuing of one acknowledgement.
const socketAckTimeout = 3 * time.Second

// RunSocketMode receives interactions over a Socket Mode websocket instead of
// the HTTP endpoint, for a Slack app without a public URL: it opens the
// connection with the app-level token (xapp-..., with the
// connections:write scope), reopens it when Slack asks or it dies, and
// acknowledges every envelope at once. Interactions go through the same
// logic as ServeHTTP (deduplication, approve, reason dialog, ephemeral
// answers, audit); the acknowledgement of a reason dialog submitted without
// a reason carries the errors that keep it open. Other envelopes (events,
// slash commands) are acknowledged and ignored.
//
// It returns nil when ctx ends, or the error that stopped the connection for
// good (a refused token). Call Wait afterwards, as after stopping the HTTP
// server, for the decisions still running.
func (h *Handler) RunSocketMode(ctx context.Context, appToken string, opts ...SocketOption) error {
	if appToken == "" {
		return errors.New("slack socket mode needs the app-level token: set " + EnvAppToken + " or " + EnvAppTokenFile)
	}
	if !strings.HasPrefix(appToken, "xapp-") {
		return errors.New(EnvAppToken + " is not an app-level token (xapp-...)")
	}
	var o socketOptions
	for _, opt := range opts {
		opt(&o)
	}
	apiOpts := []goslack.Option{goslack.OptionAppLevelToken(appToken)}
	if o.apiURL != "" {
		apiOpts = append(apiOpts, goslack.OptionAPIURL(o.apiURL))
	}
	var smOpts []socketmode.Option
	// The embedded Web API client only calls apps.connections.open, which
	// takes the app-level token; it needs no bot token.
	client := socketmode.New(goslack.New("", apiOpts...), smOpts...)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-ctx.Done():
			<-done // RunContext returns once ctx is done; its goroutines end with it
			return nil
		case evt := <-client.Events:
			h.socketEvent(ctx, client, evt)
		}
	}
}

// socketEvent handles one event of the socketmode client.
func (h *Handler) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	log := h.cfg.Logger
	switch evt.Type {
	case socketmode.EventTypeInteractive:
		ic, ok := evt.Data.(goslack.InteractionCallback)
		if !ok || evt.Request == nil {
			log.Warn("slack socket mode: interactive envelope without an interaction")
			if evt.Request != nil {
				h.ack(ctx, client, evt.Request.EnvelopeID, nil)
			}
			return
		}
		// dispatch does not block: the decision runs after the ack.
		var payload any // a nil *ViewSubmissionResponse would be sent as "payload": null
		if a := h.dispatch(ic); a != nil {
			payload = a
		}
		h.ack(ctx, client, evt.Request.EnvelopeID, payload)
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
		if evt.Request != nil {
			h.ack(ctx, client, evt.Request.EnvelopeID, nil)
		}
	case socketmode.EventTypeConnected:
		log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError:
		if e, ok := evt.Data.(*goslack.ConnectionErrorEvent); ok {
			log.Warn("slack socket mode: cannot connect", "attempt", e.Attempt, "retry_in", e.Backoff, "error", e.ErrorObj)
		}
	case socketmode.EventTypeInvalidAuth:
		log.Error("slack socket mode: the app-level token was refused")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		log.Warn("slack socket mode: websocket error", "type", string(evt.Type), "detail", socketErr(evt.Data))
	}
}

// ack acknowledges an envelope; payload nil sends the envelope ID alone.
func (h *Handler) ack(ctx context.Context, client *socketmode.Client, envelopeID string, payload any) {
	if envelopeID == "" {
		return
	}
	actx, cancel := context.WithTimeout(ctx, socketAckTimeout)
	defer cancel()
	if err := client.AckCtx(actx, envelopeID, payload); err != nil {
		h.cfg.Logger.Warn("slack socket mode: could not acknowledge", "envelope", envelopeID, "error", err)
	}
}

// socketErr describes the data of a socketmode error event.
func socketErr(data any) string {
	switch e := data.(type) {
	case *socketmode.ErrorBadMessage:
		return e.Cause.Error()
	case *socketmode.ErrorWriteFailed:
		return e.Cause.Error()
	case error:
		return e.Error()
	}
	return ""
}
