// Package grafana posts release annotations to Grafana's HTTP API (POST
// /api/annotations), so a dashboard shows when a release started, where
// it rolled back and how each environment ended, over the graphs it
// explains. Posting is best effort and off the release's path: a queue
// and one sender; a failure is logged and counted, never returned to a
// workflow.
package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/telemetry"
)

// Environment variables of the annotator. The token setting is a
// reference (env:NAME or file:PATH), never the token itself.
const (
	EnvURL   = "RUNBOOK_GRAFANA_URL"
	EnvToken = "RUNBOOK_GRAFANA_TOKEN"
)

// queueSize bounds the annotations waiting to be sent; past it they are
// dropped (and counted) rather than holding the audit activity.
const queueSize = 256

// Annotation is one event on a release's timeline.
type Annotation struct {
	Time time.Time `json:"time"`
	Text string    `json:"text"`
	Tags []string  `json:"tags"`
}

// wire is the body Grafana takes: time in epoch milliseconds.
type wire struct {
	Time int64    `json:"time"`
	Text string   `json:"text"`
	Tags []string `json:"tags"`
}

// Annotator sends annotations to one Grafana.
type Annotator struct {
	url, token string
	http       *http.Client
	failures   client.MetricsCounter
	queue      chan Annotation
	done       chan struct{}
	closeOnce  sync.Once
	noDetails  bool
}

// WithoutDetails makes the annotations say what happened but not why: a
// worker that encrypts payloads keeps comments and reasons out of Grafana
// too. Call it before the first Notify.
func (a *Annotator) WithoutDetails() *Annotator {
	a.noDetails = true
	return a
}

// New starts an annotator posting to baseURL with token; metrics counts the
// failures (nil: not counted). Close it to send what is queued and stop.
func New(baseURL, token string, metrics client.MetricsHandler) *Annotator {
	if metrics == nil {
		metrics = client.MetricsNopHandler
	}
	a := &Annotator{
		url: strings.TrimRight(baseURL, "/") + "/api/annotations", token: token,
		http:     &http.Client{Timeout: 10 * time.Second},
		failures: metrics.Counter(telemetry.AnnotationFailures),
		queue:    make(chan Annotation, queueSize), done: make(chan struct{}),
	}
	go a.run()
	return a
}

// Add queues an annotation; it never blocks.
func (a *Annotator) Add(an Annotation) {
	select {
	case a.queue <- an:
	default:
		slog.Warn("grafana: annotation dropped, the queue is full", "text", an.Text)
		a.failures.Inc(1)
	}
}

// Close sends what is queued (for at most the time ctx allows) and stops.
func (a *Annotator) Close(ctx context.Context) {
	a.closeOnce.Do(func() { close(a.queue) })
	select {
	case <-a.done:
	case <-ctx.Done():
		slog.Warn("grafana: annotations left unsent at shutdown", "left", len(a.queue))
	}
}

func (a *Annotator) run() {
	defer close(a.done)
	for an := range a.queue {
		if err := a.post(an); err != nil {
			slog.Warn("grafana: annotation not posted", "text", an.Text, "error", err)
			a.failures.Inc(1)
		}
	}
}

// post sends one annotation.
func (a *Annotator) post(an Annotation) error {
	body, err := json.Marshal(wire{Time: an.Time.UnixMilli(), Text: an.Text, Tags: an.Tags})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s: %s", a.url, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
