// Package prometheus is the metrics provider that asks a Prometheus server
// PromQL questions through client_golang's HTTP API client.
//
// It uses the client_golang/api client (address, transport, error handling) and
// decodes the small /api/v1/query JSON itself rather than going through
// api/prometheus/v1, whose typed results would pull github.com/prometheus/common
// and five more modules into go.mod for three fields of JSON.
//
// worker/providers.go lists it as "prometheus".
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/netguard"
)

// Name is the provider's name in runbooks (its key in worker/providers.go).
const Name = "prometheus"

// WindowPlaceholder in an expression is replaced by the query's window in
// PromQL duration syntax, e.g. rate(x[$window]) -> rate(x[5m]).
const WindowPlaceholder = "$window"

// TemplateWindow is the metric templates' spelling of the same placeholder.
const TemplateWindow = "${window}"

// Provider runs instant (and, with Query.Step, range) queries.
type Provider struct {
	client api.Client
	now    func() time.Time
}

// New builds a provider. Options: "url" (required, e.g. http://127.0.0.1:9090)
// and "token" (optional bearer token, usually "env:NAME").
func New(opts map[string]string) (*Provider, error) {
	addr := opts["url"]
	if addr == "" {
		return nil, errors.New("prometheus provider needs option url (e.g. http://127.0.0.1:9090)")
	}
	for k := range opts {
		if k != "url" && k != "token" {
			return nil, fmt.Errorf("prometheus provider: unknown option %q (known: url, token)", k)
		}
	}
	if err := metrics.CheckURL(addr); err != nil {
		return nil, fmt.Errorf("prometheus provider url: %w", err)
	}
	// The guarded transport refuses link-local and metadata addresses after
	// DNS resolution: the URL comes from the runbook.
	var rt http.RoundTripper = netguard.Transport(nil)
	if t := opts["token"]; t != "" {
		tok, err := metrics.Secret(t)
		if err != nil {
			return nil, fmt.Errorf("prometheus provider token: %w", err)
		}
		rt = bearer{token: tok, next: rt}
	}
	c, err := api.NewClient(api.Config{Address: addr, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus provider url %q: %w", addr, err)
	}
	return &Provider{client: c, now: time.Now}, nil
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// Query evaluates q.Expr at now, with $window and ${window} replaced by q.Window. The result
// must be a scalar or a vector of exactly one series. NaN and an empty vector
// are metrics.ErrInconclusive. With q.Step > 0 it runs a range query over the
// last q.Window instead, one series expected, and fills Sample.Values with
// every point (Value is the last one).
func (p *Provider) Query(ctx context.Context, q metrics.Query) (metrics.Sample, error) {
	expr := strings.TrimSpace(q.Expr)
	if expr == "" {
		return metrics.Sample{}, errors.New("prometheus query: empty expression")
	}
	now := q.EndAt(p.now())
	window, err := q.Clamp(now)
	if err != nil {
		return metrics.Sample{}, err
	}
	q.Window = window
	if strings.Contains(expr, WindowPlaceholder) || strings.Contains(expr, TemplateWindow) {
		if q.Window <= 0 {
			return metrics.Sample{}, fmt.Errorf("prometheus query %q uses %s but the window is not set", expr, TemplateWindow)
		}
		d := Duration(q.Window)
		expr = strings.ReplaceAll(strings.ReplaceAll(expr, TemplateWindow, d), WindowPlaceholder, d)
	}
	args := url.Values{"query": {expr}}
	ep := "/api/v1/query"
	if q.Step > 0 {
		if q.Window <= 0 {
			return metrics.Sample{}, fmt.Errorf("prometheus range query %q needs a window", expr)
		}
		ep = "/api/v1/query_range"
		args.Set("start", formatTime(now.Add(-q.Window)))
		args.Set("end", formatTime(now))
		args.Set("step", strconv.FormatFloat(q.Step.Seconds(), 'f', -1, 64))
	} else {
		args.Set("time", formatTime(now))
	}
	data, err := p.do(ctx, ep, args)
	if err != nil {
		return metrics.Sample{}, fmt.Errorf("prometheus query %q: %w", expr, err)
	}
	s, err := decode(data)
	if err != nil {
		return metrics.Sample{}, fmt.Errorf("prometheus query %q: %w", expr, err)
	}
	return s, nil
}

// do POSTs a form to the endpoint and returns the "data" member of a success.
func (p *Provider) do(ctx context.Context, ep string, args url.Values) (json.RawMessage, error) {
	u := p.client.URL(ep, nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(args.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err := p.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("HTTP %d, not a Prometheus API answer: %.200q", resp.StatusCode, body)
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("HTTP %d: %s: %s", resp.StatusCode, env.ErrorType, env.Error)
	}
	return env.Data, nil
}

// point is Prometheus's [unix seconds, "value"] pair.
type point [2]json.RawMessage

func (pt point) parse() (time.Time, float64, error) {
	var ts float64
	var vs string
	if err := json.Unmarshal(pt[0], &ts); err != nil {
		return time.Time{}, 0, fmt.Errorf("bad timestamp %s", pt[0])
	}
	if err := json.Unmarshal(pt[1], &vs); err != nil {
		return time.Time{}, 0, fmt.Errorf("bad value %s", pt[1])
	}
	v, err := strconv.ParseFloat(vs, 64) // accepts NaN, +Inf, -Inf as Prometheus writes them
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("bad value %q", vs)
	}
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), v, nil
}

type series struct {
	Metric map[string]string `json:"metric"`
	Value  point             `json:"value"`
	Values []point           `json:"values"`
}

func decode(data json.RawMessage) (metrics.Sample, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return metrics.Sample{}, fmt.Errorf("decoding result: %w", err)
	}
	switch d.ResultType {
	case "scalar":
		var pt point
		if err := json.Unmarshal(d.Result, &pt); err != nil {
			return metrics.Sample{}, fmt.Errorf("decoding scalar: %w", err)
		}
		return sampleOf(pt)
	case "vector", "matrix":
		var ss []series
		if err := json.Unmarshal(d.Result, &ss); err != nil {
			return metrics.Sample{}, fmt.Errorf("decoding %s: %w", d.ResultType, err)
		}
		if len(ss) == 0 {
			return metrics.Sample{}, metrics.Inconclusivef("no series matched (no traffic yet? add `or vector(0)` where zero is the right answer)")
		}
		if len(ss) > 1 {
			return metrics.Sample{}, fmt.Errorf("%d series returned, exactly one expected: aggregate with sum(...) or narrow the label matchers (first: %v)", len(ss), ss[0].Metric)
		}
		if d.ResultType == "vector" {
			return sampleOf(ss[0].Value)
		}
		return rangeSample(ss[0].Values)
	default:
		return metrics.Sample{}, fmt.Errorf("result type %q not supported: the query must return a scalar or one series", d.ResultType)
	}
}

func sampleOf(pt point) (metrics.Sample, error) {
	at, v, err := pt.parse()
	if err != nil {
		return metrics.Sample{}, err
	}
	if math.IsNaN(v) {
		return metrics.Sample{}, metrics.Inconclusivef("value is NaN at %s (a ratio with zero traffic?)", at.Format(time.RFC3339))
	}
	return metrics.Sample{Value: v, At: at}, nil
}

func rangeSample(pts []point) (metrics.Sample, error) {
	var s metrics.Sample
	for _, pt := range pts {
		at, v, err := pt.parse()
		if err != nil {
			return metrics.Sample{}, err
		}
		if math.IsNaN(v) {
			continue
		}
		s.Values = append(s.Values, v)
		s.Value, s.At = v, at
	}
	if len(s.Values) == 0 {
		return metrics.Sample{}, metrics.Inconclusivef("range query returned no numeric points")
	}
	return s, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// Duration formats d in PromQL syntax with millisecond precision, e.g. 1m30s -> "90s",
// 250ms -> "250ms".
func Duration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms%1000 != 0 {
		return strconv.FormatInt(ms, 10) + "ms"
	}
	return strconv.FormatInt(ms/1000, 10) + "s"
}
