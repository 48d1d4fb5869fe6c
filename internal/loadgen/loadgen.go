// Package loadgen puts steady synthetic HTTP load on a URL and counts the
// answers by status and by the X-App-Version header: the demo prints it as a
// live line while a release shifts traffic, and the end-to-end tests use it
// to check that the shift (or the rollback) loses no requests and to time it.
//
//	g, err := loadgen.Start(ctx, loadgen.Options{URL: proxyURL, Rate: 100})
//	...
//	prev := g.Snapshot()
//	for range time.Tick(time.Second) {
//		cur := g.Snapshot()
//		fmt.Println(cur.Sub(prev)) // 100 req  100/s  5xx 0.0%  v1 90%  v2 10%  p99 3ms
//		prev = cur
//	}
//	total := g.Stop()
//
// Requests go out on the ticks of a ticker, one per tick to an idle worker;
// a tick that finds every worker busy is skipped rather than queued, so a
// slow server never gets a burst to catch up and the rate is never exceeded.
// The generator only sends: it listens on nothing.
package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults and limits of Options.
const (
	DefaultRate        = 50
	DefaultConcurrency = 8
	DefaultTimeout     = 2 * time.Second
	// MaxRate keeps the ticker's period in the range a ticker can keep.
	MaxRate = 100_000
)

const (
	// maxBody bounds what is read of an answer: enough for the pages the
	// load is meant for, and a huge one cannot exhaust memory or time.
	maxBody = 1 << 20
	// maxVersions bounds ByVersion (and the event log) against a server
	// that puts something different in X-App-Version on every answer.
	maxVersions = 64
	// otherVersion counts the answers beyond maxVersions distinct versions.
	otherVersion = "(other)"
)

// Options configure a load run. Only URL is required.
type Options struct {
	// URL is requested with GET, over and over.
	URL string
	// Rate is the requests per second, at most MaxRate; 0 means DefaultRate.
	Rate int
	// Concurrency bounds the requests in flight; 0 means DefaultConcurrency.
	Concurrency int
	// Timeout bounds each request, body included; 0 means DefaultTimeout.
	Timeout time.Duration
	// Client sends the requests. When nil the generator uses its own, which
	// keeps an idle connection per worker, does not follow redirects and
	// closes its connections when the run ends.
	Client *http.Client
}

// Generator is a running load. Its methods are safe to call concurrently.
type Generator struct {
	opts      Options
	ownClient bool
	cancel    context.CancelFunc
	tokens    chan struct{} // one per tick, taken by an idle worker
	workers   sync.WaitGroup
	done      chan struct{} // closed once the run and its requests are over

	mu               sync.Mutex
	stats            Stats
	ended            time.Time
	lastSeen         map[string]time.Time
	firstServerError time.Time
}

// Start validates o and starts sending requests in the background, until
// ctx ends or Stop is called.
func Start(ctx context.Context, o Options) (*Generator, error) {
	o, own, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	g := &Generator{
		opts:      o,
		ownClient: own,
		cancel:    cancel,
		tokens:    make(chan struct{}),
		done:      make(chan struct{}),
		stats: Stats{
			ByStatus:  map[int]int64{},
			ByVersion: map[string]int64{},
			Started:   time.Now(),
		},
		lastSeen: map[string]time.Time{},
	}
	g.workers.Add(o.Concurrency)
	for range o.Concurrency {
		go g.work(ctx)
	}
	go g.pace(ctx)
	return g, nil
}

// withDefaults checks o and fills in the defaults; it reports whether the
// client is the generator's own.
func (o Options) withDefaults() (Options, bool, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return o, false, fmt.Errorf("loadgen: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, false, fmt.Errorf("loadgen: URL %q is not an absolute http or https URL", o.URL)
	}
	switch {
	case o.Rate < 0 || o.Rate > MaxRate:
		return o, false, fmt.Errorf("loadgen: rate %d is not between 1 and %d requests per second", o.Rate, MaxRate)
	case o.Concurrency < 0:
		return o, false, fmt.Errorf("loadgen: concurrency %d is negative", o.Concurrency)
	case o.Timeout < 0:
		return o, false, fmt.Errorf("loadgen: timeout %v is negative", o.Timeout)
	}
	o.Rate = cmp.Or(o.Rate, DefaultRate)
	o.Concurrency = cmp.Or(o.Concurrency, DefaultConcurrency)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	own := o.Client == nil
	if own {
		o.Client = newClient(o.Concurrency)
	}
	return o, own, nil
}

// newClient returns the generator's own client. It keeps an idle connection
// per worker, so steady load reuses connections instead of churning through
// ephemeral ports (the default transport keeps only two per host). It does
// not follow redirects: the load measures the URL, not where it points.
func newClient(concurrency int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = concurrency
	tr.MaxIdleConnsPerHost = concurrency
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Stop ends the run, waits for the requests in flight to finish (each
// within Options.Timeout) and returns the totals. Calling it again, or after
// ctx ended, just returns the totals.
func (g *Generator) Stop() Stats {
	g.cancel()
	<-g.done
	return g.Snapshot()
}

// Done is closed once the run has ended, by Stop or by its context, and the
// requests in flight have finished.
func (g *Generator) Done() <-chan struct{} { return g.done }

// Snapshot returns the totals so far. Elapsed runs up to now, or to the end
// of the run once it is over.
func (g *Generator) Snapshot() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats
	s.ByStatus = maps.Clone(s.ByStatus)
	s.ByVersion = maps.Clone(s.ByVersion)
	end := g.ended
	if end.IsZero() {
		end = time.Now()
	}
	s.Elapsed = end.Sub(s.Started)
	s.percentiles()
	return s
}

// LastSeen returns when the last 2xx or 5xx answer carrying version in its
// X-App-Version header arrived, or the zero time if none has. After a
// rollback from version, LastSeen(version) is when traffic had left it.
func (g *Generator) LastSeen(version string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastSeen[version]
}

// FirstServerError returns when the first 5xx answer arrived, or the zero
// time if none has: with LastSeen, the time a rollback took.
func (g *Generator) FirstServerError() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.firstServerError
}

// pace offers a request to an idle worker on every tick until ctx ends, then
// waits for the workers and closes the run.
func (g *Generator) pace(ctx context.Context) {
	defer g.finish()
	t := time.NewTicker(time.Second / time.Duration(g.opts.Rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case g.tokens <- struct{}{}:
			default:
				g.skipped()
			}
		}
	}
}

// finish waits for the requests in flight and marks the end of the run.
func (g *Generator) finish() {
	g.workers.Wait()
	g.mu.Lock()
	g.ended = time.Now()
	g.mu.Unlock()
	if g.ownClient {
		// Idle keep-alive connections each hold goroutines in the transport.
		g.opts.Client.CloseIdleConnections()
	}
	close(g.done)
}

func (g *Generator) skipped() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stats.Skipped++
}

// work sends a request for every tick it takes, until ctx ends.
func (g *Generator) work(ctx context.Context) {
	defer g.workers.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.tokens:
			if ctx.Err() != nil {
				return // the tick raced with the end of the run
			}
			g.request(ctx)
		}
	}
}

// request sends one request and records its outcome. Ending the run does
// not cancel it: an aborted request would count as an error the server
// never caused, so it runs to its answer or its timeout.
func (g *Generator) request(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.opts.Timeout)
	defer cancel()
	start := time.Now()
	status, version, err := g.send(ctx)
	end := time.Now()
	g.record(status, version, end, end.Sub(start), err)
}

// send makes one request and reads the whole answer, so that the latency
// includes the body and the connection can be reused.
func (g *Generator) send(ctx context.Context) (status int, version string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.opts.URL, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", "runbook-loadgen")
	resp, err := g.opts.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("X-App-Version"), nil
}

// record counts one finished request; at is when its answer arrived.
func (g *Generator) record(status int, version string, at time.Time, latency time.Duration, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := &g.stats
	s.Requests++
	if err != nil {
		s.Errors++
		return
	}
	s.ByStatus[status]++
	if _, known := s.ByVersion[version]; !known && len(s.ByVersion) >= maxVersions {
		version = otherVersion
	}
	s.ByVersion[version]++
	s.latency.add(latency)
	if status >= 500 && status <= 599 {
		s.ServerErrors++
		if g.firstServerError.IsZero() {
			g.firstServerError = at
		}
	}
	if status/100 == 2 || status/100 == 5 {
		g.lastSeen[version] = at
	}
}
