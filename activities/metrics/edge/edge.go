// Package edge is the metrics provider for runbook's own edge proxy. It scrapes
// the proxy's Prometheus-text /metrics endpoint directly, so a local setup needs
// no Prometheus server.
//
// Counters only say what happened since the proxy started, so the provider
// answers with deltas between two scrapes: it keeps the previous scrape per
// (backend, expression) in memory, and each Query measures the interval since
// the previous Query of the same backend and expression. The first Query of a
// pair only records its baseline and is inconclusive; so is the first Query
// after a worker restart. Query.Window is therefore not used: the interval is
// whatever the workflow waits between analysis rounds. A counter that went
// down (proxy restart) counts from zero.
//
// Expressions: "error-ratio" (5xx / all requests), "latency:Q" (the Q quantile
// of request duration in seconds, 0 < Q < 1, interpolated within histogram
// buckets like PromQL's histogram_quantile) and "request-rate" (requests per
// second). Importing this package registers it with metrics.New as "edge".
package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/activities/metrics"
)

// Name is the provider's name in runbooks and in metrics.New.
const Name = "edge"

// Metric names exposed by the edge proxy.
const (
	RequestsTotal   = "edge_requests_total"
	DurationBuckets = "edge_request_duration_seconds_bucket"
)

const maxBody = 16 << 20

func init() {
	metrics.Register(Name, func(opts map[string]string) (metrics.Provider, error) { return New(opts) })
}

// Provider scrapes one edge proxy.
type Provider struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	prev map[string]snapshot // key: backend + "\x00" + expr
}

// New builds a provider. Options: "url" of the proxy's metrics endpoint
// (required, e.g. http://127.0.0.1:8081/metrics).
func New(opts map[string]string) (*Provider, error) {
	u := opts["url"]
	if u == "" {
		return nil, errors.New("edge provider needs option url (the edge proxy's /metrics endpoint)")
	}
	for k := range opts {
		if k != "url" {
			return nil, fmt.Errorf("edge provider: unknown option %q (known: url)", k)
		}
	}
	return &Provider{url: u, client: &http.Client{Timeout: 10 * time.Second}, now: time.Now, prev: map[string]snapshot{}}, nil
}

// Query scrapes the proxy and answers q.Expr for q.Backend over the interval
// since the previous Query with the same backend and expression.
func (p *Provider) Query(ctx context.Context, q metrics.Query) (metrics.Sample, error) {
	if q.Backend == "" {
		return metrics.Sample{}, errors.New("edge query needs a backend")
	}
	eval, err := evaluator(q.Expr)
	if err != nil {
		return metrics.Sample{}, err
	}
	samples, err := p.scrape(ctx)
	if err != nil {
		return metrics.Sample{}, err
	}
	cur := take(samples, q.Backend, p.now())
	if !cur.seen {
		return metrics.Sample{}, metrics.Inconclusivef("edge has no series for backend %q yet (no traffic?)", q.Backend)
	}
	key := q.Backend + "\x00" + q.Expr
	p.mu.Lock()
	prev, ok := p.prev[key]
	p.prev[key] = cur
	p.mu.Unlock()
	if !ok {
		return metrics.Sample{}, metrics.Inconclusivef("first scrape of backend %q for %q: baseline recorded, measure again after some traffic", q.Backend, q.Expr)
	}
	v, err := eval(cur.minus(prev))
	if err != nil {
		return metrics.Sample{}, fmt.Errorf("edge %s for backend %q: %w", q.Expr, q.Backend, err)
	}
	return metrics.Sample{Value: v, At: cur.at}, nil
}

func (p *Provider) scrape(ctx context.Context) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return nil, fmt.Errorf("edge metrics url %q: %w", p.url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping edge metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping edge metrics %s: HTTP %d", p.url, resp.StatusCode)
	}
	s, err := parseText(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("parsing edge metrics from %s: %w", p.url, err)
	}
	return s, nil
}

// evaluator returns the function computing expr from a delta snapshot.
func evaluator(expr string) (func(snapshot) (float64, error), error) {
	switch {
	case expr == "error-ratio":
		return errorRatio, nil
	case expr == "request-rate":
		return requestRate, nil
	case strings.HasPrefix(expr, "latency:"):
		q, err := strconv.ParseFloat(strings.TrimPrefix(expr, "latency:"), 64)
		if err != nil || !(q > 0 && q < 1) {
			return nil, fmt.Errorf("edge expression %q: want latency:Q with 0 < Q < 1, e.g. latency:0.99", expr)
		}
		return func(s snapshot) (float64, error) { return quantile(q, s.buckets) }, nil
	default:
		return nil, fmt.Errorf("unknown edge expression %q; known: error-ratio, request-rate, latency:Q (e.g. latency:0.99)", expr)
	}
}

func errorRatio(d snapshot) (float64, error) {
	if d.total <= 0 {
		return 0, metrics.Inconclusivef("no requests since the previous measurement")
	}
	return d.errors / d.total, nil
}

func requestRate(d snapshot) (float64, error) {
	if d.elapsed <= 0 {
		return 0, metrics.Inconclusivef("no time passed since the previous measurement")
	}
	return d.total / d.elapsed.Seconds(), nil
}
