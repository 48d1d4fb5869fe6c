// Package edgestats is the metrics provider for runbook's own edge proxy. It scrapes
// the proxy's Prometheus-text /metrics endpoint directly, so a local setup needs
// no Prometheus server.
//
// Counters only say what happened since the proxy started, so the provider
// answers with deltas between scrapes, which it keeps in memory. Every Query
// scrapes the proxy once; what the delta is taken against depends on
// Query.Window:
//
//   - Window > 0 means "over the last Window", like PromQL's increase(). The
//     provider keeps a bounded history of scrapes per backend (shared by all
//     expressions: one scrape has every counter) and answers with the delta
//     since the newest scrape taken at least Window ago. While no scrape is
//     that old, the oldest one does if it covers at least half the window;
//     otherwise the answer is inconclusive. Scrapes older than 1.5 windows
//     never count, so windowed queries must come at least that often; the
//     Bake activity asks every second.
//   - Window == 0 means "since the previous Query of the same backend and
//     expression": the interval is whatever the caller waits between queries.
//     The first Query of a pair only records its baseline and is inconclusive.
//
// Either way the first queries after a worker restart are inconclusive, as the
// history is gone. A counter that went down (proxy restart) counts from zero.
//
// Expressions: "error-ratio" (5xx / all requests; inconclusive over fewer than
// MinRequests requests), "latency:Q" (the Q quantile of request duration in
// seconds, 0 < Q < 1, interpolated within histogram buckets like PromQL's
// histogram_quantile) and "request-rate" (requests per second).
// worker/providers.go lists it as "edge".
package edgestats

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
	"github.com/runbookhq/runbook/internal/netguard"
)

// Name is the provider's name in runbooks (its key in worker/providers.go).
const Name = "edge"

// Metric names exposed by the edge proxy.
const (
	RequestsTotal   = "edge_requests_total"
	DurationBuckets = "edge_request_duration_seconds_bucket"
)

const maxBody = 16 << 20

// MinRequests is the fewest requests an error ratio or a latency quantile is
// computed over: one 5xx among three requests is noise, not a 33% error
// rate, and must neither fail a release nor pass it.
const MinRequests = 10

// Provider scrapes one edge proxy.
type Provider struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	prev map[string]snapshot // Window 0; key: backend + "\x00" + expr
	hist map[string]*history // Window > 0; key: backend
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
	if err := metrics.CheckURL(u); err != nil {
		return nil, fmt.Errorf("edge provider url: %w", err)
	}
	return &Provider{url: u, client: netguard.Client(nil, 10*time.Second), now: time.Now, prev: map[string]snapshot{}, hist: map[string]*history{}}, nil
}

// Query scrapes the proxy and answers q.Expr for q.Backend over the last
// q.Window, or, when q.Window is 0, over the interval since the previous Query
// with the same backend and expression.
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
	var from snapshot
	if q.Window > 0 {
		cur, from, err = p.windowStart(q.Backend, cur, q.Window, q.Since)
	} else {
		from, err = p.previous(q.Backend+"\x00"+q.Expr, cur)
	}
	if err == nil {
		var v float64
		if v, err = eval(cur.minus(from)); err == nil {
			return metrics.Sample{Value: v, At: cur.at}, nil
		}
	}
	return metrics.Sample{}, fmt.Errorf("edge %s for backend %q: %w", q.Expr, q.Backend, err)
}

// previous records cur as key's baseline and returns the one it replaces.
func (p *Provider) previous(key string, cur snapshot) (snapshot, error) {
	p.mu.Lock()
	prev, ok := p.prev[key]
	p.prev[key] = cur
	p.mu.Unlock()
	if !ok {
		return prev, metrics.Inconclusivef("first scrape: baseline recorded, measure again after some traffic")
	}
	return prev, nil
}

// windowStart records cur in backend's history and returns it reset-adjusted,
// with the snapshot a window ending now starts from.
func (p *Provider) windowStart(backend string, cur snapshot, window time.Duration, since time.Time) (snapshot, snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hist[backend]
	if h == nil {
		h = &history{}
		p.hist[backend] = h
	}
	cur = h.add(cur, window)
	from, err := h.start(cur, window, since)
	return cur, from, err
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
	if d.total < MinRequests {
		return 0, metrics.Inconclusivef("only %g requests in %s, need at least %d for an error ratio", d.total, d.elapsed.Round(time.Millisecond), MinRequests)
	}
	return d.errors / d.total, nil
}

func requestRate(d snapshot) (float64, error) {
	if d.elapsed <= 0 {
		return 0, metrics.Inconclusivef("no time passed since the previous measurement")
	}
	return d.total / d.elapsed.Seconds(), nil
}
