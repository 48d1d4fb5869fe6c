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
// the last 30 days as Prometheus gauges, then runbook's releases in flight
// and the SDK's metrics. Computing the gauges reads the release history, so
// it runs in the background at most once a minute, each ended release's
// status is read once (releases.FinalCache), and a scrape never waits for
// it beyond the first answer: a slow or failing visibility store must not
// take the SDK's metrics, the ones that show why, off /metrics.
// doraSource lists releases and computes a service's DORA metrics; a
// *releases.Client is one.
type doraSource interface {
	List(ctx context.Context, f releases.ListFilter) ([]releases.ListItem, error)
	DORA(ctx context.Context, service, env string, since, until time.Time) (dora.Metrics, error)
}

type doraGauges struct {
	rc  doraSource
	now func() time.Time
	// sdk, when set, adds the Temporal SDK's metrics after the gauges.
	sdk *telemetry.Registry
	// releases adds the releases in flight, read from visibility.
	releases *telemetry.ReleaseGauges
	// compute renders the gauges (computeDORA; a test's own otherwise).
	compute func(context.Context) ([]byte, error)

	// last is each service's last computed metrics: a service whose
	// releases cannot be read this time keeps them (computeDORA only; one
	// computation runs at a time).
	last map[string]dora.Metrics

	mu   sync.Mutex
	at   time.Time
	body []byte
	// refreshing is closed when the running computation ends; nil when
	// none runs.
	refreshing chan struct{}
}

// How long a scrape waits for the first DORA gauges (a first computation
// reads every ended release of the namespace once: in a busy namespace
// longer than a scrape may take; the gauges come with a later scrape), and
// how long one computation may take.
const (
	doraFirstWait = time.Second
	doraTimeout   = 2 * time.Minute
)

func newDORAGauges(c client.Client, cfg Config) *doraGauges {
	rc := ReleasesClient(c, cfg, nil)
	rc.Finals = &releases.FinalCache{}
	g := &doraGauges{rc: rc, now: time.Now, sdk: cfg.Metrics,
		releases: &telemetry.ReleaseGauges{Client: c, Namespace: cfg.Client.Namespace, TTL: releasesCache}}
	g.compute = g.computeDORA
	return g
}

func (g *doraGauges) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(g.dora(r.Context()))
	if g.releases != nil {
		if err := g.releases.WriteText(r.Context(), w); err != nil {
			slog.Warn("runbook_releases not read", "error", err)
		}
	}
	if g.sdk != nil {
		_ = g.sdk.WriteText(w)
	}
}

// dora returns the DORA gauges: the last ones computed, with a new
// computation started when they are stale. Only while there are none yet
// does it wait for the computation, up to doraFirstWait.
func (g *doraGauges) dora(ctx context.Context) []byte {
	g.mu.Lock()
	if (g.body == nil || g.now().Sub(g.at) >= doraCache) && g.refreshing == nil {
		g.refreshing = make(chan struct{})
		go g.refresh(g.refreshing)
	}
	body, running := g.body, g.refreshing
	g.mu.Unlock()
	if body != nil || running == nil {
		return body
	}
	t := time.NewTimer(doraFirstWait)
	defer t.Stop()
	select {
	case <-running:
	case <-ctx.Done():
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.body
}

// refresh computes the gauges and closes done; on failure the last ones
// stay, and the next scrape tries again.
func (g *doraGauges) refresh(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), doraTimeout)
	defer cancel()
	body, err := g.compute(ctx)
	g.mu.Lock()
	if err != nil {
		slog.Warn("dora metrics not computed; the last ones stay", "error", err)
	} else {
		g.body, g.at = body, g.now()
	}
	g.refreshing = nil
	g.mu.Unlock()
	close(done)
}

// computeDORA lists the services that released and renders their metrics.
func (g *doraGauges) computeDORA(ctx context.Context) ([]byte, error) {
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
	if g.last == nil {
		g.last = map[string]dora.Metrics{}
	}
	for _, s := range services {
		d, err := g.rc.DORA(ctx, s, "", now.Add(-doraWindow), now)
		if err != nil {
			// One service's unreadable release (a payload encrypted with a
			// key this worker lacks, say) must not take every service's
			// gauges with it: that service keeps its last ones, if any.
			last, ok := g.last[s]
			slog.Warn("dora metrics of a service not computed", "service", s, "kept_last", ok, "error", err)
			if ok {
				ds = append(ds, last)
			}
			continue
		}
		g.last[s] = d
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
