package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/activities/slack"
	"github.com/runbookhq/runbook/internal/grafana"
)

// grafanaSetup starts the annotator when RUNBOOK_GRAFANA_URL is set, with
// the token from RUNBOOK_GRAFANA_TOKEN or RUNBOOK_GRAFANA_TOKEN_FILE; the
// returned stop sends what is queued (for a few seconds at most). Without
// the URL both are nil.
func grafanaSetup(cfg Config) (*grafana.Annotator, func(), error) {
	base := os.Getenv(grafana.EnvURL)
	if base == "" {
		return nil, nil, nil
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("%s: want http(s)://host[:port], got %q", grafana.EnvURL, base)
	}
	token, err := slack.LoadSecret(nil, grafana.EnvToken)
	if err != nil {
		return nil, nil, err
	}
	if token == "" {
		return nil, nil, fmt.Errorf("%s is set but not %s (or %s_FILE): Grafana needs a service account token with the annotations:write permission",
			grafana.EnvURL, grafana.EnvToken, grafana.EnvToken)
	}
	var h client.MetricsHandler
	if cfg.Metrics != nil {
		h = cfg.Metrics.Handler()
	}
	a := grafana.New(base, token, h)
	slog.Info("grafana: annotating releases", "url", base)
	return a, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Close(ctx)
	}, nil
}
