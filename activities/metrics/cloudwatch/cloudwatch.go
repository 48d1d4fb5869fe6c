// Package cloudwatch is the metrics provider that asks Amazon CloudWatch
// through GetMetricData.
//
// Query.Expr is one of two forms (see ParseExpr):
//
//	AWS/ApplicationELB/HTTPCode_Target_5XX_Count:Sum:LoadBalancer=app/checkout/50dc6c495c0c9188
//	e=AWS/ApplicationELB/HTTPCode_Target_5XX_Count:Sum:LoadBalancer=app/x/1; r=AWS/ApplicationELB/RequestCount:Sum:LoadBalancer=app/x/1; e/r
//
// The first is one metric, "[Namespace/]MetricName:Stat[:Name=Value,...]":
// the namespace is everything before the last "/" of the first part (or
// option namespace when there is no "/"), the statistic any CloudWatch
// statistic without a colon (Sum, Average, Maximum, p99, ...), and the
// dimensions follow after the second colon. The second is a metric math
// expression (the last part) over metrics given ids before it, parts
// separated by ";". "$backend" anywhere is replaced by Query.Backend.
//
// The client speaks the awsQuery protocol rather than the SDK's default
// Smithy RPC v2 CBOR: CloudWatch accepts both, and moto (the emulator the
// tests run against) only the former.
//
// worker/providers.go lists it as "cloudwatch".
// Credentials come from the SDK's default chain and are never logged.
package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/runbookhq/runbook/activities/metrics"

	"github.com/runbookhq/runbook/internal/awsconf"
)

// Name is the provider's name in runbooks (its key in worker/providers.go).
const Name = "cloudwatch"

// Options the provider takes.
const (
	// OptRegion overrides the region of the default chain.
	OptRegion = "region"
	// OptEndpoint overrides the CloudWatch endpoint URL (tests, moto, VPC endpoints).
	OptEndpoint = "endpoint"
	// OptNamespace is the namespace of metrics written without one.
	OptNamespace = "namespace"
)

// DefaultWindow is the window of a query that gives none.
const DefaultWindow = 5 * time.Minute

// BackendPlaceholder in an expression is replaced by Query.Backend.
const BackendPlaceholder = "$backend"

// Provider runs GetMetricData queries. It is safe for concurrent use.
type Provider struct {
	client    *cw.Client
	namespace string
	now       func() time.Time
}

// New builds a provider from options (see the Opt constants), loading AWS
// credentials from the default chain.
func New(opts map[string]string) (*Provider, error) {
	for k := range opts {
		if k != OptRegion && k != OptEndpoint && k != OptNamespace {
			return nil, fmt.Errorf("cloudwatch provider: unknown option %q (known: %s, %s, %s)", k, OptRegion, OptEndpoint, OptNamespace)
		}
	}
	cfg, err := awsconf.Load(opts[OptRegion], opts[OptEndpoint])
	if err != nil {
		return nil, fmt.Errorf("cloudwatch provider: loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("cloudwatch provider: no region: set option region or AWS_REGION on the worker")
	}
	return NewWithConfig(cfg, opts[OptNamespace]), nil
}

// NewWithConfig builds a provider from a ready aws.Config; namespace is the
// namespace of metrics written without one (may be empty).
func NewWithConfig(cfg aws.Config, namespace string) *Provider {
	c := cw.NewFromConfig(cfg, func(o *cw.Options) {
		o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801)
	})
	return &Provider{client: c, namespace: namespace, now: time.Now}
}

// Query runs q.Expr over the last q.Window (DefaultWindow when unset). With
// q.Step unset the period is the whole window (rounded up to a minute) and
// Value is the newest datapoint; with q.Step it is the period (rounded up
// to a minute) and Values holds every datapoint, oldest first, Value the
// newest. No datapoint at all is metrics.ErrInconclusive.
//
// Real CloudWatch rounds a query's start down to a multiple of the period,
// so without a step the answer can come as two points, the newest covering
// only the part of the window since the last period boundary. Checks that
// need exactly the window should set Step and combine Values themselves.
func (p *Provider) Query(ctx context.Context, q metrics.Query) (metrics.Sample, error) {
	expr := strings.TrimSpace(q.Expr)
	if strings.Contains(expr, BackendPlaceholder) {
		if q.Backend == "" {
			return metrics.Sample{}, fmt.Errorf("cloudwatch query %q uses %s but names no backend", expr, BackendPlaceholder)
		}
		expr = strings.ReplaceAll(expr, BackendPlaceholder, q.Backend)
	}
	// q.Since does not cut the window: CloudWatch publishes by the minute,
	// often minutes late, so cutting a window at a bake's start would leave
	// no data. Raw observations (q.Step) are another matter: a comparison
	// must not count periods that began before the bake (sinceOnly).
	window := q.Window
	if window <= 0 {
		window = DefaultWindow
	}
	period := window
	if q.Step > 0 {
		period = q.Step
	}
	queries, err := ParseExpr(expr, p.namespace, roundPeriod(period))
	if err != nil {
		return metrics.Sample{}, err
	}
	now := q.EndAt(p.now())
	in := &cw.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-window)), EndTime: aws.Time(now),
		MetricDataQueries: queries, ScanBy: types.ScanByTimestampAscending,
	}
	var res types.MetricDataResult
	for {
		out, err := p.client.GetMetricData(ctx, in)
		if err != nil {
			return metrics.Sample{}, fmt.Errorf("cloudwatch query %q: %w", expr, err)
		}
		for _, r := range out.MetricDataResults {
			if aws.ToString(r.Id) == resultID {
				res.Values = append(res.Values, r.Values...)
				res.Timestamps = append(res.Timestamps, r.Timestamps...)
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if q.Step > 0 {
		res = sinceOnly(res, q.Since)
	}
	return sample(expr, res)
}

// sinceOnly drops the datapoints of periods that began before since (zero:
// none), so observations compared for a bake are the bake's own.
func sinceOnly(r types.MetricDataResult, since time.Time) types.MetricDataResult {
	if since.IsZero() || len(r.Timestamps) != len(r.Values) {
		return r
	}
	var out types.MetricDataResult
	for i, ts := range r.Timestamps {
		if !ts.Before(since) {
			out.Values = append(out.Values, r.Values[i])
			out.Timestamps = append(out.Timestamps, ts)
		}
	}
	return out
}

func sample(expr string, r types.MetricDataResult) (metrics.Sample, error) {
	if len(r.Values) == 0 {
		return metrics.Sample{}, metrics.Inconclusivef("cloudwatch query %q: no datapoints in the window (no traffic yet, or a typo in the namespace, name or dimensions?)", expr)
	}
	s := metrics.Sample{Values: r.Values, Value: r.Values[len(r.Values)-1]}
	if n := len(r.Timestamps); n > 0 {
		s.At = r.Timestamps[n-1]
	}
	return s, nil
}

// roundPeriod rounds up to a whole minute, the period every metric supports.
func roundPeriod(d time.Duration) int32 {
	m := (d + time.Minute - 1) / time.Minute
	if m < 1 {
		m = 1
	}
	return int32(m * 60)
}
