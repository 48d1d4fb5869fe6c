package worker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/runbookhq/runbook/internal/dora"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/internal/telemetry"
)

// Window and caching of the DORA gauges the worker serves at /metrics.
const (
	doraWindow = 30 * 24 * time.Hour
	doraCache  = time.Minute
	// releasesCache is the compose scrape interval: the releases in flight
	// change by the minute, and one read lists them all from visibility
	// (bench: telemetry-releases-gauge-read, about 0.5 s for 1,000 on the
	// dev server), so every scraper of every worker costs one read per 15 s.
	releasesCache = 15 * time.Second
)

// doraGauges serves the DORA metrics of every service with releases over
// the last 30 days as Prometheus gauges. Computing them reads the release
// history, so an answer is reused for a minute whatever the scrape rate.
type doraGauges struct {
	rc  *releases.Client
	now func() time.Time
	// sdk, when set, adds the Temporal SDK's metrics after the gauges.
	sdk *telemetry.Registry
	// releases adds the releases in flight, read from visibility.
	releases *telemetry.ReleaseGauges

	mu   sync.Mutex
	at   time.Time
	body []byte
}

func newDORAGauges(c client.Client, cfg Config) *doraGauges {
	return &doraGauges{rc: ReleasesClient(c, cfg, nil), now: time.Now, sdk: cfg.Metrics,
		releases: &telemetry.ReleaseGauges{Client: c, Namespace: cfg.Client.Namespace, TTL: releasesCache}}
}

func (g *doraGauges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.body == nil || g.now().Sub(g.at) >= doraCache {
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		body, err := g.compute(ctx)
		if err != nil {
			slog.Warn("dora metrics not computed", "error", err)
			http.Error(w, "dora metrics: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		g.body, g.at = body, g.now()
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(g.body)
	if g.releases != nil {
		if err := g.releases.WriteText(r.Context(), w); err != nil {
			slog.Warn("runbook_releases not read", "error", err)
		}
	}
	if g.sdk != nil {
		_ = g.sdk.WriteText(w)
	}
}

// compute lists the services that released and renders their metrics.
func (g *doraGauges) compute(ctx context.Context) ([]byte, error) {
	items, err := g.rc.List(ctx, releases.ListFilter{Limit: 1000})
	if err != nil {
		return nil, err
	}
	var services []string
	for _, it := range items {
		if it.Service != "" && !slices.Contains(services, it.Service) {
			services = append(services, it.Service)
		}
	}
	slices.Sort(services)
	now := g.now()
	var ds []dora.Metrics
	for _, s := range services {
		d, err := g.rc.DORA(ctx, s, "", now.Add(-doraWindow), now)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return renderDORA(ds), nil
}

// renderDORA writes the gauges in the Prometheus text format.
func renderDORA(ds []dora.Metrics) []byte {
	var b bytes.Buffer
	gauge := func(name, help string, value func(dora.Metrics) float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, d := range ds {
			fmt.Fprintf(&b, "%s{service=%q} %g\n", name, d.Service, value(d))
		}
	}
	gauge("runbook_dora_deployments", "Successful deployments to the last environment in the last 30 days.",
		func(d dora.Metrics) float64 { return float64(d.Deployments) })
	gauge("runbook_dora_deployments_per_day", "Deployment frequency over the last 30 days.",
		func(d dora.Metrics) float64 { return d.PerDay })
	gauge("runbook_dora_lead_time_seconds", "Median time from a release's start to its success.",
		func(d dora.Metrics) float64 { return d.LeadTime.Seconds() })
	gauge("runbook_dora_change_failure_rate", "Share of changes rolled back, aborted or failed.",
		func(d dora.Metrics) float64 { return d.ChangeFailureRate })
	gauge("runbook_dora_time_to_restore_seconds", "Median time from a failed release to the next success.",
		func(d dora.Metrics) float64 { return d.TimeToRestore.Seconds() })
	return b.Bytes()
}
