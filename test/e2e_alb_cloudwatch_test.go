package test

// A canary on an AWS Application Load Balancer judged by the alb-cloudwatch
// preset, both emulated by one real moto_server: the worker weights the
// listener through ELBv2 and reads AWS/ApplicationELB metrics through
// CloudWatch's GetMetricData. moto routes no traffic and reports no
// metrics, so a publisher plays the ALB's reporting: it reads the weights
// the router set and files RequestCount (and, for a faulty slot,
// HTTPCode_Target_5XX_Count) per target group as AWS does.
//
// Latency is left out: moto 5.2.1's GetMetricData answers no percentile
// statistic (a p99 query fails with an internal error serialising None), so
// the preset's TargetResponseTime:p99 cannot be tried here.

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/runbookhq/runbook/internal/testenv/moto"
	"github.com/runbookhq/runbook/workflows"
)

// albCloudWatchRunbook is albCanaryRunbook with CloudWatch metrics and only
// the built-in error-ratio SLO: the alb/cloudwatch default preset measures
// it, its dimensions filled from the router's tg.<slot> and listener-arn
// options. Each round's window is 3s: moto counts whole seconds, and the
// publisher files a datapoint every half second.
const albCloudWatchRunbook = `api-version: runbook/v1
service: {{.Service}}
owner: team-e2e
artifact:
  reference: {{.Artifact}}
environments:
  - name: production
    traffic:
      provider: alb
      options:
        listener-arn: {{.X.Listener}}
        region: {{.X.Region}}
        endpoint: {{.X.Endpoint}}
        tg.blue: {{.X.Blue}}
        tg.green: {{.X.Green}}
      slots:
        blue:
          target-group: {{.X.Blue}}
        green:
          target-group: {{.X.Green}}
    metrics:
      provider: cloudwatch
      options:
        region: {{.X.Region}}
        endpoint: {{.X.Endpoint}}
    slos:
      - name: errors
        error-ratio: 0.05
        window: 3s
    steps:
      - name: canary
        canary:
          analysis-interval: 2s
          steps:
            - weight: 20
              bake: 4s
            - weight: 50
              bake: 4s
            - weight: 100
              bake: 4s
`

// The emulated ALB serves albRequestsPerTick requests every albPublishTick
// in all (100 a second), split among the target groups by weight.
const (
	albPublishTick     = 500 * time.Millisecond
	albRequestsPerTick = 50
)

// albReporter plays the ALB's CloudWatch reporting: every tick it reads the
// listener's weights and files each weighted target group's requests, and
// its target 5xx when the slot is faulty.
type albReporter struct {
	f      *albFixture
	cw     *cw.Client
	lbDim  string            // LoadBalancer dimension, app/NAME/ID
	tgDims map[string]string // slot -> TargetGroup dimension, targetgroup/NAME/ID
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	faulty map[string]float64 // slot -> share of its requests answered 5xx
	puts   int
	fails  int
	last   error
}

// reportALBMetrics starts the publisher. The dimensions are derived from
// the ARNs the way AWS files ALB metrics, independently of the provider's
// own conversion, so that a mismatch between the two shows.
func reportALBMetrics(t *testing.T, f *albFixture) *albReporter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := f.client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{f.listener}})
	if err != nil || len(out.Listeners) != 1 {
		t.Fatalf("describing the listener: %v", err)
	}
	rep := &albReporter{
		f: f, faulty: map[string]float64{}, tgDims: map[string]string{}, done: make(chan struct{}),
		lbDim: strings.TrimPrefix(arnResource(t, aws.ToString(out.Listeners[0].LoadBalancerArn)), "loadbalancer/"),
		cw: cw.NewFromConfig(f.srv.Config(), func(o *cw.Options) {
			o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801) // moto speaks no CBOR
		}),
	}
	for slot, arn := range f.tgs {
		rep.tgDims[slot] = arnResource(t, arn)
	}
	t.Logf("ALB metrics filed under LoadBalancer=%s, TargetGroup=%v", rep.lbDim, rep.tgDims)
	runCtx, stop := context.WithCancel(context.Background())
	rep.cancel = stop
	go rep.run(runCtx)
	return rep
}

// arnResource is the resource part of an ELB ARN (after the fifth colon):
// "targetgroup/NAME/ID" or "loadbalancer/app/NAME/ID".
func arnResource(t *testing.T, arn string) string {
	t.Helper()
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "elasticloadbalancing" {
		t.Fatalf("%q is not an ELB ARN", arn)
	}
	return parts[5]
}

// setFaulty makes share of slot's requests answer 5xx from the next tick.
func (rep *albReporter) setFaulty(slot string, share float64) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.faulty[slot] = share
}

func (rep *albReporter) run(ctx context.Context) {
	defer close(rep.done)
	tick := time.NewTicker(albPublishTick)
	defer tick.Stop()
	for {
		err := rep.publish(ctx)
		rep.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			rep.fails, rep.last = rep.fails+1, err
		default:
			rep.puts++
		}
		rep.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// publish files one tick of the ALB's metrics: RequestCount for every
// target group with weight, HTTPCode_Target_5XX_Count only where there
// were 5xx (a real ALB files no datapoint for none).
func (rep *albReporter) publish(ctx context.Context) error {
	w, err := rep.f.weights(ctx)
	if err != nil {
		return err
	}
	rep.mu.Lock()
	faulty := map[string]float64{}
	for k, v := range rep.faulty {
		faulty[k] = v
	}
	rep.mu.Unlock()
	now := time.Now()
	var data []cwtypes.MetricDatum
	for slot, weight := range w {
		if weight <= 0 {
			continue
		}
		n := float64(albRequestsPerTick * weight / 100)
		data = append(data, rep.datum("RequestCount", slot, n, now))
		if bad := math.Round(n * faulty[slot]); bad > 0 {
			data = append(data, rep.datum("HTTPCode_Target_5XX_Count", slot, bad, now))
		}
	}
	if len(data) == 0 {
		return nil
	}
	_, err = rep.cw.PutMetricData(ctx, &cw.PutMetricDataInput{Namespace: aws.String("AWS/ApplicationELB"), MetricData: data})
	return err
}

func (rep *albReporter) datum(name, slot string, v float64, at time.Time) cwtypes.MetricDatum {
	return cwtypes.MetricDatum{
		MetricName: aws.String(name), Value: aws.Float64(v), Unit: cwtypes.StandardUnitCount, Timestamp: aws.Time(at),
		Dimensions: []cwtypes.Dimension{
			{Name: aws.String("TargetGroup"), Value: aws.String(rep.tgDims[slot])},
			{Name: aws.String("LoadBalancer"), Value: aws.String(rep.lbDim)},
		},
	}
}

// stop ends publishing, failing the test if it never published or a
// publish failed.
func (rep *albReporter) stop(t *testing.T) {
	t.Helper()
	rep.cancel()
	<-rep.done
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.fails > 0 || rep.puts == 0 {
		t.Errorf("ALB metrics publisher: %d ticks published, %d failed, last: %v", rep.puts, rep.fails, rep.last)
	}
}

// TestALBCanaryJudgedByCloudWatchPreset: a canary on a moto ALB whose only
// SLO is the built-in error-ratio, measured by the alb-cloudwatch preset on
// AWS/ApplicationELB metrics in moto's CloudWatch. 2.0.0 to green, whose
// target group files no 5xx datapoint at all, passes every round with a
// ratio of 0 (absent 5xx is zero, not inconclusive); 3.0.0 to blue, 20% of
// whose requests fail, breaches and all traffic goes back to green.
func TestALBCanaryJudgedByCloudWatchPreset(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-alb-cw")
	f := newALB(t)
	rep := reportALBMetrics(t, f)
	defer rep.stop(t)
	r.startWorker(f.workerEnv(r)...)
	path, digest := r.writeRunbook("runbook.yaml", albCloudWatchRunbook, map[string]any{
		"Listener": f.listener, "Region": moto.Region, "Endpoint": f.srv.URL,
		"Blue": f.tgs["blue"], "Green": f.tgs["green"],
	})

	// 2.0.0: blue is live, green takes the canary and serves no 5xx.
	id2 := r.deploy(path, digest, "2.0.0", requester)
	st := r.waitFor(id2, id2+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateSucceeded {
		t.Fatalf("canary 2.0.0: %s (%s)", st.State, st.Reason)
	}
	tr := env(t, st, "production").Traffic
	if tr == nil || tr.Live != "blue" || tr.Target != "green" || tr.Phase != 3 || tr.Phases != 3 {
		t.Fatalf("canary 2.0.0 traffic status %+v, want blue live, green target after weight 3 of 3", tr)
	}
	if len(tr.Rounds) < 6 {
		t.Errorf("%d analysis rounds in the status, want two per weight", len(tr.Rounds))
	}
	var seen []string
	for _, round := range tr.Rounds {
		if len(round.Measurements) == 1 {
			seen = append(seen, round.Measurements[0].Detail)
		}
		if round.Verdict != "pass" || len(round.Measurements) != 1 {
			t.Errorf("round %d: %s with %+v, want pass with one measurement", round.Round, round.Verdict, round.Measurements)
			continue
		}
		m := round.Measurements[0]
		if v := float64(m.Value); m.Check != "errors" || m.Verdict != "pass" || math.IsNaN(v) || v > 0.001 {
			t.Errorf("round %d: %s measured %v (%s, %s), want errors passing near 0", round.Round, m.Check, v, m.Verdict, m.Detail)
		}
	}
	t.Logf("canary 2.0.0 rounds: %v", seen)
	if w := f.mustWeights(t); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the canary the listener has %v, want green 100 blue 0", w)
	}

	// What a person runs before the next canary: the live slot's SLO
	// queries answer now, through the preset.
	res := runCLI(t, append(cleanEnviron(), f.workerEnv(r)...), "", "slo", "check", path, "--env", "production", "--slot", "green", "-o", "json")
	if rep := decodeSLOReport(t, res); res.code != 0 || len(rep.Results) != 1 || rep.Results[0].Verdict != "pass" || rep.Results[0].From != "preset alb-cloudwatch" {
		t.Errorf("slo check on the live slot: want exit 0, errors passing from preset alb-cloudwatch; got %s", res)
	}

	// 3.0.0 goes to blue, which answers 20% of its requests with 5xx.
	rep.setFaulty("blue", 0.2)
	id3 := r.deploy(path, digest, "3.0.0", requester)
	st = r.waitFor(id3, id3+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "SLO breach") {
		t.Fatalf("release 3.0.0 is %s (%s), want rolled-back after an SLO breach seen through CloudWatch", st.State, st.Reason)
	}
	prod := env(t, st, "production")
	d := prod.Traffic.Decisive
	if d == nil || d.Verdict != "fail" || len(d.Measurements) != 1 || d.Measurements[0].Check != "errors" || d.Measurements[0].Verdict != "fail" {
		t.Fatalf("decisive round %+v, want the one where errors failed", d)
	}
	if v := float64(d.Measurements[0].Value); math.Abs(v-0.2) > 0.05 {
		t.Errorf("decisive error ratio %v (%s), want about the 0.2 published", v, d.Measurements[0].Detail)
	}
	if w := f.mustWeights(t); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the breach the listener has %v, want all traffic back on green: green 100 blue 0", w)
	}
	t.Logf("3.0.0: %s; decisive round %d: %s", st.Reason, d.Round, d.Measurements[0].Detail)
}
