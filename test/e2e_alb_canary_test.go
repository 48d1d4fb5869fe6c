package test

// Progressive delivery on an AWS Application Load Balancer, emulated by a
// real moto_server: the worker weights the target groups of a listener's
// forward action through the AWS SDK. moto routes no traffic, so these
// releases have no SLOs and the test watches the control path instead: the
// weights the listener reports while a canary walks and when it is aborted.

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/runbookhq/runbook/internal/testenv/moto"
	"github.com/runbookhq/runbook/workflows"
)

// albCanaryRunbook is one environment with no infra: the slots are target
// groups that exist already, and the only step is the canary. Without SLOs
// each weight's bake is a plain timer.
const albCanaryRunbook = `api-version: runbook/v1
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
    steps:
      - name: canary
        canary:
          steps:
{{- range .X.Weights}}
            - weight: {{.Weight}}
              bake: {{.Bake}}
{{- end}}
`

// canaryWeight is one weight of a canary step and its bake.
type canaryWeight struct {
	Weight int
	Bake   string
}

// albFixture is a load balancer in moto whose HTTP listener forwards to two
// target groups, blue and green.
type albFixture struct {
	srv      *moto.Server
	client   *elbv2.Client
	listener string
	tgs      map[string]string // slot -> target group ARN
}

// newALB starts moto and creates the load balancer with blue serving
// everything (100/0), as after an earlier release to blue.
func newALB(t *testing.T) *albFixture {
	t.Helper()
	srv := moto.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vpc, subnets, err := srv.DefaultVPC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(subnets) < 2 {
		t.Fatalf("moto's default VPC has %d subnets; an ALB needs two", len(subnets))
	}
	c := elbv2.NewFromConfig(srv.Config())
	lb, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("checkout"), Subnets: subnets[:2]})
	if err != nil {
		t.Fatal(err)
	}
	f := &albFixture{srv: srv, client: c, tgs: map[string]string{}}
	var tuples []types.TargetGroupTuple
	for _, slot := range []string{"blue", "green"} {
		arn, err := moto.CreateTargetGroup(ctx, c, "checkout-"+slot, vpc)
		if err != nil {
			t.Fatal(err)
		}
		f.tgs[slot] = arn
		w := int32(0)
		if slot == "blue" {
			w = 100
		}
		tuples = append(tuples, types.TargetGroupTuple{TargetGroupArn: aws.String(f.tgs[slot]), Weight: aws.Int32(w)})
	}
	l, err := c.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{TargetGroups: tuples}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.listener = aws.ToString(l.Listeners[0].ListenerArn)
	return f
}

// weights reads the listener's forward weights by slot through the AWS
// SDK, apart from the router under test.
func (f *albFixture) weights(ctx context.Context) (map[string]int, error) {
	out, err := f.client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{f.listener}})
	if err != nil {
		return nil, err
	}
	w := map[string]int{"blue": 0, "green": 0}
	for _, l := range out.Listeners {
		for _, a := range l.DefaultActions {
			if a.Type != types.ActionTypeEnumForward || a.ForwardConfig == nil {
				continue
			}
			for _, tg := range a.ForwardConfig.TargetGroups {
				for slot, arn := range f.tgs {
					if aws.ToString(tg.TargetGroupArn) == arn {
						w[slot] = int(aws.ToInt32(tg.Weight))
					}
				}
			}
		}
	}
	return w, nil
}

// mustWeights is weights for the test goroutine.
func (f *albFixture) mustWeights(t *testing.T) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := f.weights(ctx)
	if err != nil {
		t.Fatalf("describing listener: %v", err)
	}
	return w
}

// writeRunbook renders the runbook for this load balancer with a canary
// of the given weights.
func (f *albFixture) writeRunbook(r *rig, name string, weights []canaryWeight) (path, digest string) {
	return r.writeRunbook(name, albCanaryRunbook, map[string]any{
		"Listener": f.listener, "Region": moto.Region, "Endpoint": f.srv.URL,
		"Blue": f.tgs["blue"], "Green": f.tgs["green"], "Weights": weights,
	})
}

// workerEnv gives the worker moto's static credentials through the SDK's
// default chain, and keeps that chain from finding anything else on this
// machine: profiles, shared files, the instance metadata service.
func (f *albFixture) workerEnv(r *rig) []string {
	none := filepath.Join(r.dir, "no-aws-config")
	return []string{
		"AWS_ACCESS_KEY_ID=" + moto.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + moto.SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + none,
		"AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// weightTrail records each distinct weight pair the listener reports,
// polled in the background, so a test sees every step a release took.
type weightTrail struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	seen  []map[string]int
	fails int
	last  error
}

// traceWeights polls f every 50 ms (each weight of the canaries here stays
// for a second or more) until stop.
func traceWeights(f *albFixture) *weightTrail {
	ctx, cancel := context.WithCancel(context.Background())
	tr := &weightTrail{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			w, err := f.weights(ctx)
			tr.mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				tr.fails, tr.last = tr.fails+1, err
			case len(tr.seen) == 0 || !reflect.DeepEqual(tr.seen[len(tr.seen)-1], w):
				tr.seen = append(tr.seen, w)
			}
			tr.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return tr
}

// stop ends the polling and returns the weights seen, failing the test if
// reading the listener ever failed.
func (tr *weightTrail) stop(t *testing.T) []map[string]int {
	t.Helper()
	tr.cancel()
	<-tr.done
	if tr.fails > 0 {
		t.Errorf("describing the listener failed %d times while polling, last: %v", tr.fails, tr.last)
	}
	return tr.seen
}

// slotWeights lists one slot's weight in each pair seen.
func slotWeights(seen []map[string]int, slot string) []int {
	out := make([]int, len(seen))
	for i, w := range seen {
		out[i] = w[slot]
	}
	return out
}

// TestCanaryOnALB: on a listener whose forward action sends everything to
// blue, a canary with no SLOs moves green up through 20, 50 and 100 while
// blue gives way, each step a one-second timer; then a canary of the next
// version back to blue is aborted by a person while it bakes at 50, and the
// listener returns to the weights found before it: green 100, blue 0.
func TestCanaryOnALB(t *testing.T) {
	t.Parallel()
	r := newRig(t, "canary-alb")
	f := newALB(t)
	r.startWorker(f.workerEnv(r)...)

	// 1.0.0: blue is live, green takes the canary.
	path, digest := f.writeRunbook(r, "runbook.yaml", []canaryWeight{{20, "1s"}, {50, "1s"}, {100, "1s"}})
	trail := traceWeights(f)
	id1 := r.deploy(path, digest, "1.0.0", requester)
	st := r.waitFor(id1, id1+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	seen := trail.stop(t)
	t.Logf("listener weights during the canary of 1.0.0: %v", seen)
	if st.State != workflows.StateSucceeded {
		t.Fatalf("canary 1.0.0: %s (%s)", st.State, st.Reason)
	}
	tr := env(t, st, "production").Traffic
	if tr == nil || tr.Provider != "alb" || tr.Live != "blue" || tr.Target != "green" || tr.Phase != 3 || tr.Phases != 3 {
		t.Fatalf("canary 1.0.0 traffic status %+v, want alb with blue live, green target after weight 3 of 3", tr)
	}
	for _, w := range seen {
		if w["blue"]+w["green"] != 100 {
			t.Errorf("the listener had %v: the weights of one change must add up to 100", w)
		}
	}
	if got, want := slotWeights(seen, "green"), []int{0, 20, 50, 100}; !reflect.DeepEqual(got, want) {
		t.Errorf("green's weights on the listener went %v, want %v: one step per canary weight, only up", got, want)
	}
	if w := f.mustWeights(t); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the canary the listener has %v, want green 100 blue 0", w)
	}

	// 2.0.0 goes to blue and is aborted while its second weight bakes; the
	// bakes are long so that the abort surely lands in one.
	path, _ = f.writeRunbook(r, "runbook-slow.yaml", []canaryWeight{{20, "1s"}, {50, "1m"}, {100, "1m"}})
	trail = traceWeights(f)
	id2 := r.deploy(path, digest, "2.0.0", requester)
	r.waitFor(id2, "canary 2.0.0 baking at 50", func(st workflows.ReleaseStatus) bool {
		e, ok := st.Current()
		return ok && e.Traffic != nil && e.Traffic.Phase == 2 && e.Traffic.Weights["blue"] == 50
	})
	if w := f.mustWeights(t); w["blue"] != 50 || w["green"] != 50 {
		t.Fatalf("while 2.0.0 bakes at 50 the listener has %v, want blue 50 green 50", w)
	}
	abortedAt := time.Now()
	r.mustCLI("abort", id2, "--as", "dave", "--reason", "wrong build")
	st = r.waitFor(id2, id2+" finished", func(st workflows.ReleaseStatus) bool { return st.Finished() })
	seen = trail.stop(t)
	t.Logf("listener weights during the canary of 2.0.0: %v", seen)
	if st.State != workflows.StateRolledBack || !strings.Contains(st.Reason, "aborted by dave") {
		t.Fatalf("release 2.0.0 is %s (%s), want rolled-back, aborted by dave", st.State, st.Reason)
	}
	if w := f.mustWeights(t); w["green"] != 100 || w["blue"] != 0 {
		t.Errorf("after the abort the listener has %v, want the weights found before: green 100 blue 0", w)
	}
	if got, want := slotWeights(seen, "blue"), []int{0, 20, 50, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("blue's weights on the listener went %v, want %v: up to the aborted weight, then straight back", got, want)
	}
	prod := env(t, st, "production")
	t.Logf("abort command to weights restored: %s", prod.Traffic.RevertedAt.Sub(abortedAt).Round(time.Millisecond))
	if c := prod.Compensations; len(c) != 1 || c[0].Step != "canary" || c[0].State != workflows.StateDone {
		t.Errorf("compensations %+v, want the canary's traffic undone", c)
	}
	if !hasAudit(r.auditRecords(id2), "release.aborted", "dave", "") {
		t.Errorf("the audit log has no release.aborted record by dave")
	}
}
