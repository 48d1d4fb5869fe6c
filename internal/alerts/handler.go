package alerts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Path is where the worker serves Alertmanager's webhook.
const Path = "/hooks/alertmanager"

// MaxBody bounds a message. Alertmanager's max_alerts bounds a message's
// alerts; a few hundred alerts fit well inside 1 MiB.
const MaxBody = 1 << 20

// actTimeout bounds the work of one message: a few Temporal calls per alert.
const actTimeout = 45 * time.Second

// Handler serves POST /hooks/alertmanager.
type Handler struct {
	Config *Config
	Acter  *Acter
	// Acted, when set, is called after a message acted on some release,
	// so the circuit breaker is evaluated at once.
	Acted func()
}

// ServeHTTP verifies the sender, then handles each alert of the message.
// It answers 200 when every alert was handled (acted on, noted, ignored or
// refused, all audited) and 503 when a lookup failed, so Alertmanager
// sends the message again.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := h.Config.Verify(r.Header); err != nil {
		slog.Warn("alerts: message refused: credentials do not match", "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	m, err := ParseMessage(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Alertmanager hanging up must not cut an action from its audit.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actTimeout)
	defer cancel()
	lines, failed := h.handle(ctx, m)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// handle handles every alert of m and says what each led to.
func (h *Handler) handle(ctx context.Context, m Message) ([]string, bool) {
	var lines []string
	failed, acted := false, false
	for _, a := range m.Alerts {
		service, env, sev, why := h.Config.Map(a)
		if why != "" {
			lines = append(lines, fmt.Sprintf("%s %s: ignored: %s", a.Name(), a.Fingerprint, why))
			continue
		}
		if a.Status == StatusResolved {
			err := h.Acter.audit(ctx, m, a, Target{Service: service, Environment: env}, sev, outcome{action: "resolved", detail: "resolved; nothing is done"})
			failed = failed || err != nil
			lines = append(lines, fmt.Sprintf("%s %s: resolved (audited)", a.Name(), a.Fingerprint))
			continue
		}
		o, err := h.Acter.firing(ctx, m, a, service, env, sev)
		switch {
		case err != nil:
			failed = true
			lines = append(lines, fmt.Sprintf("%s %s: failed: %v", a.Name(), a.Fingerprint, err))
			slog.Error("alerts: alert not handled", "alert", a.Name(), "fingerprint", a.Fingerprint, "error", err)
		case o.duplicate:
			lines = append(lines, fmt.Sprintf("%s %s: duplicate, %s", a.Name(), a.Fingerprint, o.detail))
		default:
			acted = acted || o.action != "refused"
			lines = append(lines, fmt.Sprintf("%s %s: %s: %s", a.Name(), a.Fingerprint, o.action, o.detail))
			slog.Info("alerts: alert handled", "alert", a.Name(), "fingerprint", a.Fingerprint, "action", o.action, "release", o.release, "detail", o.detail)
		}
	}
	if acted && h.Acted != nil {
		h.Acted()
	}
	return lines, failed
}

// Map reads an alert's service, environment and severity from its labels;
// why says why it is not for runbook (a static matcher differs, a label
// is missing).
func (c *Config) Map(a Alert) (service, env, sev, why string) {
	for _, k := range sortedKeys(c.Match) {
		if a.Labels[k] != c.Match[k] {
			return "", "", "", fmt.Sprintf("label %s is %q, not %q", k, a.Labels[k], c.Match[k])
		}
	}
	service = labelValue(a.Labels, c.Labels.Service)
	env = labelValue(a.Labels, c.Labels.Environment)
	sev = labelValue(a.Labels, c.Labels.Severity)
	switch {
	case service == "":
		return "", "", "", "no service label (" + strings.Join(c.Labels.Service, ", ") + ")"
	case env == "":
		return "", "", "", "no environment label (" + strings.Join(c.Labels.Environment, ", ") + ")"
	case !safeValue(service) || !safeValue(env):
		return "", "", "", fmt.Sprintf("service %q or environment %q is not a name runbook uses", service, env)
	}
	return service, env, sev, ""
}
