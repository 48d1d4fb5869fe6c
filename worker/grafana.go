package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/codec"
	"github.com/runbookhq/runbook/internal/grafana"
)

// grafanaSetup starts the annotator when RUNBOOK_GRAFANA_URL is set, with
// the token RUNBOOK_GRAFANA_TOKEN refers to (env:NAME or file:PATH, never
// the token itself, like the other tokens); the returned stop sends what
// is queued (for a few seconds at most). Without the URL both are nil.
func grafanaSetup(cfg Config) (*grafana.Annotator, func(), error) {
	base := os.Getenv(grafana.EnvURL)
	if base == "" {
		return nil, nil, nil
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("%s: want http(s)://host[:port], got %q", grafana.EnvURL, base)
	}
	ref := os.Getenv(grafana.EnvToken)
	if ref == "" {
		return nil, nil, fmt.Errorf("%s is set but not %s (env:NAME or file:PATH of a Grafana service account token with annotations:write)",
			grafana.EnvURL, grafana.EnvToken)
	}
	token, err := codec.ResolveRef(grafana.EnvToken, ref, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	token = strings.TrimSpace(token)
	var h client.MetricsHandler
	if cfg.Metrics != nil {
		h = cfg.Metrics.Handler()
	}
	a := grafana.New(base, token, h)
	if cfg.Codec != nil {
		// Payloads are encrypted in Temporal: the reasons they hold (a
		// rejection's comment) do not go to Grafana in the clear either.
		a.WithoutDetails()
	}
	slog.Info("grafana: annotating releases", "url", base, "reasons", cfg.Codec == nil)
	return a, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Close(ctx)
	}, nil
}
