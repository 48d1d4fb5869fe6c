package test

// Mann-Whitney compare on CloudWatch (moto): the check a runbook's compare
// SLO with a metric template becomes (workflows.SLOChecks), run by the
// Measure activity through the cloudwatch provider the worker would build.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/activities/metrics/cloudwatch"
	"github.com/runbookhq/runbook/internal/testenv/moto"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

const cwCompareNS = "Runbook/Compare"

// cwLive is the live slot's latency, one average per minute.
var cwLive = []float64{0.101, 0.097, 0.104, 0.099, 0.103, 0.098, 0.102, 0.100}

// TestCloudWatchCompare: eight minutes of per-minute latency per slot, read
// at a 60 s step: a slower slot fails against the live one, a slot with the
// same distribution passes, a slot with three minutes of data is
// inconclusive. Every datapoint written comes back, in order.
// Not parallel: the provider reads its credentials from the environment.
func TestCloudWatchCompare(t *testing.T) {
	srv := moto.Start(t)
	putPerMinute(t, srv, "live", cwLive)
	slow := make([]float64, len(cwLive))
	for i, v := range cwLive {
		slow[i] = v + 0.05
	}
	putPerMinute(t, srv, "slow", slow)
	same := slices.Clone(cwLive)
	slices.Reverse(same)
	putPerMinute(t, srv, "same", same)
	putPerMinute(t, srv, "sparse", slow[:3])

	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	acts := &metrics.Activities{Factories: metrics.Factories{cloudwatch.Name: metrics.FactoryOf(cloudwatch.New)}}
	env := cwCompareEnv(srv.URL)
	for _, tc := range []struct {
		target string
		want   metrics.Verdict
		values []float64
	}{
		{"slow", metrics.Fail, slow},
		{"same", metrics.Pass, same},
		{"sparse", metrics.Inconclusive, slow[:3]},
	} {
		checks := workflows.SLOChecks(env, tc.target, "live", map[string]string{runbooks.VarSlot: tc.target}, time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := acts.Measure(ctx, metrics.MeasureInput{Round: 1, Checks: checks})
		cancel()
		if err != nil || len(res.Measurements) != 1 {
			t.Fatalf("%s vs live: %+v, %v", tc.target, res, err)
		}
		m := res.Measurements[0]
		t.Logf("%s vs live: %s (%s)", tc.target, m.Verdict, m.Detail)
		if m.Verdict != tc.want {
			t.Errorf("%s vs live is %s (%s), want %s", tc.target, m.Verdict, m.Detail, tc.want)
		}
		if tc.want == metrics.Inconclusive {
			continue
		}
		if !slices.Equal(m.CanarySamples, tc.values) || !slices.Equal(m.BaselineSamples, cwLive) {
			t.Errorf("%s vs live: samples %v vs %v, want every datapoint written: %v vs %v", tc.target, m.CanarySamples, m.BaselineSamples, tc.values, cwLive)
		}
	}
}

// cwCompareEnv is an environment whose one SLO compares the template
// p-latency, per minute over nine minutes, between the target and live slots.
func cwCompareEnv(endpoint string) *runbooks.Environment {
	return &runbooks.Environment{
		Name: "production",
		Metrics: &runbooks.Metrics{
			Provider: cloudwatch.Name,
			Options:  map[string]string{cloudwatch.OptRegion: moto.Region, cloudwatch.OptEndpoint: endpoint, cloudwatch.OptNamespace: cwCompareNS},
			Templates: map[string]runbooks.MetricTemplate{
				"p-latency": {Value: "Latency:Average:Slot=${slot}"},
			},
		},
		SLOs: []runbooks.SLO{{
			Name: "vs-live", Template: "p-latency", Window: runbooks.Duration(9 * time.Minute),
			Compare: &runbooks.Compare{MinSamples: 5, Step: runbooks.Duration(time.Minute)},
		}},
	}
}

// putPerMinute writes values as slot's Latency, one datapoint in each of
// the last len(values) minutes (backdated, oldest first), mid-minute so
// that each falls in its own 60 s period whatever the query's alignment.
func putPerMinute(t *testing.T, srv *moto.Server, slot string, values []float64) {
	t.Helper()
	now := time.Now()
	var data []types.MetricDatum
	for i, v := range values {
		at := now.Add(-time.Duration(len(values)-i)*time.Minute + 30*time.Second)
		data = append(data, types.MetricDatum{
			MetricName: aws.String("Latency"), Value: aws.Float64(v), Unit: types.StandardUnitSeconds, Timestamp: aws.Time(at),
			Dimensions: []types.Dimension{{Name: aws.String("Slot"), Value: aws.String(slot)}},
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := cw.NewFromConfig(srv.Config(), func(o *cw.Options) {
		o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801) // moto speaks no CBOR
	})
	if _, err := c.PutMetricData(ctx, &cw.PutMetricDataInput{Namespace: aws.String(cwCompareNS), MetricData: data}); err != nil {
		t.Fatal(err)
	}
}
