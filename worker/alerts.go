package worker

import (
	"context"
	"log/slog"

	goslack "github.com/slack-go/slack"
	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/alerts"
)

// alertsWiring is the alert endpoint and the circuit breaker of a worker.
type alertsWiring struct {
	handler *alerts.Handler
	breaker *alerts.BreakerRunner
}

// alertsSetup loads the alerts file (RUNBOOK_ALERTS_FILE) and returns the
// handler of POST /hooks/alertmanager and the breaker, or nil when no file
// is set. A bad file or a missing secret fails the start.
func alertsSetup(cfg Config, c client.Client, log audit.Store, sl *slack.Activities) (*alertsWiring, error) {
	if cfg.AlertsFile == "" {
		return nil, nil
	}
	ac, err := alerts.Load(cfg.AlertsFile, nil)
	if err != nil {
		return nil, err
	}
	// Signed with the alerts file's signing-key, if any: without it,
	// environments that need signed decisions refuse the alerts' controls
	// and rollbacks (audited as refused) and trust roots the breaker's
	// freezes.
	rc := ReleasesClient(c, cfg, ac.Signer())
	var note *goslack.Client
	if sl != nil {
		note = sl.Client // nil when Slack is off
	}
	w := &alertsWiring{handler: &alerts.Handler{Config: ac, Acter: &alerts.Acter{Releases: rc, Audit: log, Slack: note}}}
	if ac.Breaker != nil {
		w.breaker = &alerts.BreakerRunner{Config: ac.Breaker, Releases: rc, Audit: log, Metrics: MetricsProviders()}
		w.handler.Acted = w.breaker.Kick
	}
	slog.Info("alerts: serving Alertmanager's webhook", "path", alerts.Path, "file", ac.Path, "breaker", ac.Breaker != nil)
	return w, nil
}

// startBreaker runs the breaker's checks (every check-every, and after an
// alert acted on a release) until ctx ends; the returned stop waits for it.
func (w *alertsWiring) startBreaker(ctx context.Context) func() {
	if w == nil || w.breaker == nil {
		return func() {}
	}
	return w.breaker.Start(ctx)
}
