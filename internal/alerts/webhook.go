package alerts

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Alert statuses in Alertmanager's webhook.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Message is Alertmanager's webhook payload, version 4.
type Message struct {
	Version     string            `json:"version"`
	GroupKey    string            `json:"groupKey"`
	Status      string            `json:"status"`
	Receiver    string            `json:"receiver"`
	GroupLabels map[string]string `json:"groupLabels"`
	ExternalURL string            `json:"externalURL"`
	Alerts      []Alert           `json:"alerts"`

	// channel and source name where a synthetic message came from (a
	// watch); empty for Alertmanager's own. release, when set, is the
	// only release the message may act on.
	channel, source, release string
}

// channelName is the audit channel of the message's alerts.
func (m Message) channelName() string {
	if m.channel != "" {
		return m.channel
	}
	return "alertmanager"
}

// sourceName is the trigger source of a rollback the message started.
func (m Message) sourceName() string {
	if m.source != "" {
		return m.source
	}
	return "alertmanager " + m.ExternalURL
}

// Alert is one alert of a Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Name is the alert's alertname label.
func (a Alert) Name() string { return a.Labels["alertname"] }

// ParseMessage decodes a webhook body and refuses what is not version 4.
func ParseMessage(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("not an Alertmanager webhook message: %w", err)
	}
	if m.Version != "4" {
		return m, fmt.Errorf("webhook version %q: only Alertmanager's version 4 is understood", m.Version)
	}
	for i, a := range m.Alerts {
		if a.Fingerprint == "" || !fingerprintOK(a.Fingerprint) {
			return m, fmt.Errorf("alert %d: fingerprint %q missing or not hexadecimal", i, a.Fingerprint)
		}
		if a.Status != StatusFiring && a.Status != StatusResolved {
			return m, fmt.Errorf("alert %d: status %q is neither firing nor resolved", i, a.Status)
		}
		if a.StartsAt.IsZero() {
			return m, fmt.Errorf("alert %d (%s): startsAt missing", i, a.Fingerprint)
		}
	}
	return m, nil
}

func fingerprintOK(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// errUnauthorized is the answer to any failed check; it says nothing of
// which part failed.
var errUnauthorized = errors.New("unauthorized")

// Verify checks the request's Authorization header against the configured
// bearer token or basic credentials, in constant time.
func (c *Config) Verify(h http.Header) error {
	if c.token != "" {
		tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
		if !ok || !equal(tok, c.token) {
			return errUnauthorized
		}
		return nil
	}
	r := http.Request{Header: h}
	u, p, ok := r.BasicAuth()
	// Both compared, always: no early exit tells a user name apart.
	uok, pok := equal(u, c.user), equal(p, c.password)
	if !ok || !uok || !pok || c.password == "" {
		return errUnauthorized
	}
	return nil
}

// equal compares a and b in time independent of where they differ and of
// their lengths (hashes of equal size are compared).
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
