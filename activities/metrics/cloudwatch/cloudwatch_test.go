package cloudwatch

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/testenv/moto"
)

const ns = "Runbook/Checkout"

// put writes one datapoint per value, seconds apart in the last minute.
func put(t *testing.T, c *cw.Client, name, backend string, values ...float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	var data []types.MetricDatum
	for i, v := range values {
		data = append(data, types.MetricDatum{
			MetricName: aws.String(name), Value: aws.Float64(v), Unit: types.StandardUnitCount,
			Timestamp:  aws.Time(now.Add(-time.Duration(len(values)-i) * time.Second)),
			Dimensions: []types.Dimension{{Name: aws.String("Backend"), Value: aws.String(backend)}},
		})
	}
	if _, err := c.PutMetricData(ctx, &cw.PutMetricDataInput{Namespace: aws.String(ns), MetricData: data}); err != nil {
		t.Fatal(err)
	}
}

func TestAgainstMoto(t *testing.T) {
	srv := moto.Start(t)
	put(t, NewWithConfig(srv.Config(), "").client, "Errors", "canary", 1, 2, 3)
	put(t, NewWithConfig(srv.Config(), "").client, "Requests", "canary", 10, 10, 10)

	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	p, err := New(map[string]string{OptRegion: moto.Region, OptEndpoint: srv.URL, OptNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := func(expr string) (metrics.Sample, error) {
		return p.Query(ctx, metrics.Query{Expr: expr, Window: 5 * time.Minute, Backend: "canary"})
	}
	for _, tc := range []struct {
		expr string
		want float64
	}{
		{ns + "/Errors:Sum:Backend=canary", 6},
		{"Errors:Average:Backend=$backend", 2},
		{"Errors:Maximum:Backend=canary", 3},
		{"Errors:SampleCount:Backend=canary", 3},
		// moto evaluates only a math expression that names one id (no
		// arithmetic), which still exercises hidden metrics + expression.
		{"e=Errors:Sum:Backend=canary; r=Requests:Sum:Backend=canary; e", 6},
	} {
		s, err := q(tc.expr)
		if err != nil || math.Abs(s.Value-tc.want) > 1e-9 || len(s.Values) != 1 || time.Since(s.At) > 10*time.Minute {
			t.Errorf("%s = %+v, %v; want %g", tc.expr, s, err, tc.want)
		}
	}

	// With a step, one value per minute that has data.
	s, err := p.Query(ctx, metrics.Query{Expr: "Errors:Sum:Backend=canary", Window: 10 * time.Minute, Step: time.Minute})
	if err != nil || len(s.Values) == 0 || sum(s.Values) != 6 {
		t.Errorf("step query = %+v, %v; want values adding up to 6", s, err)
	}

	// No such dimension value, metric or namespace. (moto ignores the
	// namespace of a query with dimensions, so the last one has none.)
	for _, expr := range []string{"Errors:Sum:Backend=stable", "Latency:p99", "Other/Errors:Sum"} {
		if _, err := q(expr); !errors.Is(err, metrics.ErrInconclusive) {
			t.Errorf("%s: %v; want inconclusive", expr, err)
		}
	}
}

func sum(vs []float64) float64 {
	var t float64
	for _, v := range vs {
		t += v
	}
	return t
}

func TestParseExpr(t *testing.T) {
	qs, err := ParseExpr("AWS/ApplicationELB/HTTPCode_Target_5XX_Count:Sum:LoadBalancer=app/checkout/50dc,TargetGroup=targetgroup/blue/1f", "", 300)
	if err != nil || len(qs) != 1 {
		t.Fatal(qs, err)
	}
	ms := qs[0].MetricStat
	if aws.ToString(qs[0].Id) != "result" || aws.ToString(ms.Metric.Namespace) != "AWS/ApplicationELB" ||
		aws.ToString(ms.Metric.MetricName) != "HTTPCode_Target_5XX_Count" || aws.ToString(ms.Stat) != "Sum" ||
		aws.ToInt32(ms.Period) != 300 || len(ms.Metric.Dimensions) != 2 ||
		aws.ToString(ms.Metric.Dimensions[0].Value) != "app/checkout/50dc" {
		t.Fatalf("parsed %+v", ms)
	}
	qs, err = ParseExpr("e=Errors:Sum:B=c; r=Requests:Sum:B=c; e / r", "Ns", 60)
	if err != nil || len(qs) != 3 || aws.ToBool(qs[0].ReturnData) || aws.ToString(qs[1].Id) != "r" ||
		aws.ToString(qs[2].Expression) != "e / r" || aws.ToString(qs[1].MetricStat.Metric.Namespace) != "Ns" {
		t.Fatalf("ids + math: %+v %v", qs, err)
	}
	qs, err = ParseExpr(`SEARCH('{AWS/EC2,InstanceId} MetricName="CPUUtilization"', 'Average', 300)`, "", 60)
	if err != nil || len(qs) != 1 || qs[0].Expression == nil {
		t.Fatalf("math: %+v %v", qs, err)
	}
	for _, bad := range []string{"", "Errors:Sum", "x; Errors:Sum", "e=Errors:Bad Stat; e", "result=N/E:Sum; result", "N/E:Sum:NoEquals"} {
		if _, err := ParseExpr(bad, "", 60); err == nil {
			t.Errorf("ParseExpr(%q): no error", bad)
		}
	}
	if _, err := New(map[string]string{"url": "x"}); err == nil || !strings.Contains(err.Error(), `unknown option "url"`) {
		t.Errorf("unknown option: %v", err)
	}
}

func TestELBARNsBecomeDimensionValues(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"TargetGroup", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/73e2d6bc24d8a067", "targetgroup/blue/73e2d6bc24d8a067"},
		{"LoadBalancer", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2", "app/shop/50dc6c495c0c9188"},
		{"LoadBalancer", "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188", "app/shop/50dc6c495c0c9188"},
		{"LoadBalancer", "app/shop/50dc6c495c0c9188", "app/shop/50dc6c495c0c9188"},
		{"InstanceId", "arn:aws:ec2:us-east-1:1:instance/i-1", "arn:aws:ec2:us-east-1:1:instance/i-1"},
	} {
		if got := dimensionValue(c.name, c.in); got != c.want {
			t.Errorf("dimensionValue(%s, %s) = %s, want %s", c.name, c.in, got, c.want)
		}
	}
	qs, err := ParseExpr("AWS/ApplicationELB/RequestCount:Sum:TargetGroup=arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/2,LoadBalancer=arn:aws:elasticloadbalancing:us-east-1:1:listener/app/lb/3/4", "", 60)
	if err != nil || len(qs) != 1 {
		t.Fatalf("ParseExpr = %v, %v", qs, err)
	}
	d := qs[0].MetricStat.Metric.Dimensions
	if len(d) != 2 || *d[0].Value != "targetgroup/g/2" || *d[1].Value != "app/lb/3" {
		t.Errorf("dimensions %+v", d)
	}
}

func TestCompareObservationsStartAtTheBake(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := types.MetricDataResult{Values: []float64{1, 2, 3}, Timestamps: []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)}}
	if got := sinceOnly(r, t0.Add(30*time.Second)); len(got.Values) != 2 || got.Values[0] != 2 {
		t.Errorf("sinceOnly = %v, want the periods from the bake's start on", got.Values)
	}
	if got := sinceOnly(r, time.Time{}); len(got.Values) != 3 {
		t.Errorf("no since: %v, want every datapoint", got.Values)
	}
}
