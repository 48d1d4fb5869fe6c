package alb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/testenv/moto"
)

// fixture is a load balancer in moto with two target groups, blue and
// green, and an HTTP listener forwarding 50/50 to them.
type fixture struct {
	srv      *moto.Server
	client   *elbv2.Client
	listener string
	tgs      map[string]string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := moto.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vpc, subnets, err := srv.DefaultVPC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := elbv2.NewFromConfig(srv.Config())
	lb, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("checkout"), Subnets: subnets[:2]})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, client: c, tgs: map[string]string{}}
	var tuples []types.TargetGroupTuple
	for _, name := range []string{"blue", "green"} {
		arn, err := moto.CreateTargetGroup(ctx, c, "checkout-"+name, vpc)
		if err != nil {
			t.Fatal(err)
		}
		f.tgs[name] = arn
		tuples = append(tuples, types.TargetGroupTuple{TargetGroupArn: aws.String(arn), Weight: aws.Int32(50)})
		if _, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(arn),
			Targets: []types.TargetDescription{{Id: aws.String("10.0.0.10"), Port: aws.Int32(8080)}}}); err != nil {
			t.Fatal(err)
		}
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

// options are what a runbook would give, with the endpoint pointing at moto
// and test credentials in the environment for the default chain.
func (f *fixture) options(t *testing.T) map[string]string {
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	return map[string]string{
		OptListenerARN: f.listener, OptRegion: moto.Region, OptEndpoint: f.srv.URL,
		"tg.blue": f.tgs["blue"], "tg.green": f.tgs["green"],
	}
}

func TestAgainstMoto(t *testing.T) {
	f := setup(t)
	r, err := New(f.options(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if w, err := r.Weights(ctx); err != nil || w["blue"] != 50 || w["green"] != 50 {
		t.Fatalf("initial weights %v, %v; want 50/50", w, err)
	}
	if err := r.SetWeights(ctx, map[string]int{"blue": 80, "green": 20}); err != nil {
		t.Fatal(err)
	}
	if w, err := r.Weights(ctx); err != nil || w["blue"] != 80 || w["green"] != 20 {
		t.Fatalf("weights %v, %v; want blue 80, green 20", w, err)
	}
	// Backends not named keep their weight.
	if err := r.SetWeights(ctx, map[string]int{"green": 30}); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(ctx); w["blue"] != 80 || w["green"] != 30 {
		t.Fatalf("weights %v; want blue kept at 80, green 30", w)
	}

	// moto does not model connection draining: a registered target stays
	// "healthy" at weight 0, so Drain must set weight 0 and report 0 in flight
	// at once, without waiting out the timeout.
	start := time.Now()
	n, err := r.Drain(ctx, "green", 20*time.Second)
	if err != nil || n != 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("Drain = %d, %v after %s; want 0 at once", n, err, time.Since(start))
	}
	if w, _ := r.Weights(ctx); w["green"] != 0 || w["blue"] != 80 {
		t.Fatalf("after drain %v; want green 0, blue 80", w)
	}

	for _, bad := range []map[string]int{{"purple": 10}, {"blue": 101}, {"blue": -1}} {
		if err := r.SetWeights(ctx, bad); !isInvalid(err) {
			t.Errorf("SetWeights(%v) = %v; want non-retryable %s", bad, err, ErrTypeInvalid)
		}
	}
	if _, err := r.Drain(ctx, "purple", time.Second); !isInvalid(err) {
		t.Errorf("Drain(purple) = %v; want %s", err, ErrTypeInvalid)
	}
}

func TestRule(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rule, err := f.client.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(f.listener), Priority: aws.Int32(10),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/api/*"}}},
		Actions:    []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(f.tgs["blue"])}},
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := f.options(t)
	opts[OptRuleARN] = aws.ToString(rule.Rules[0].RuleArn)
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// A plain forward to one group reads as 100 to it.
	if w, err := r.Weights(ctx); err != nil || w["blue"] != 100 || w["green"] != 0 {
		t.Fatalf("rule weights %v, %v; want blue 100, green 0", w, err)
	}
	if err := r.SetWeights(ctx, map[string]int{"blue": 90, "green": 10}); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(ctx); w["blue"] != 90 || w["green"] != 10 {
		t.Fatalf("rule weights %v; want 90/10", w)
	}
	// The listener's default action is untouched.
	l, err := New(f.options(t))
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := l.Weights(ctx); w["blue"] != 50 || w["green"] != 50 {
		t.Fatalf("listener weights %v; want 50/50 untouched", w)
	}
}

func TestMissingListener(t *testing.T) {
	f := setup(t)
	opts := f.options(t)
	opts[OptListenerARN] = strings.Replace(f.listener, "listener/app", "listener/app/none", 1)
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := r.Weights(ctx); !isInvalid(err) {
		t.Fatalf("Weights on a missing listener = %v; want %s", err, ErrTypeInvalid)
	}
}

func TestOptions(t *testing.T) {
	good := map[string]string{OptListenerARN: "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/x/1/2", "tg.blue": "arn:aws:tg"}
	for _, tc := range []struct {
		name string
		edit func(map[string]string)
		want string
	}{
		{"no listener", func(o map[string]string) { delete(o, OptListenerARN) }, "listener-arn is required"},
		{"no backends", func(o map[string]string) { delete(o, "tg.blue") }, "no backends"},
		{"unknown option", func(o map[string]string) { o["weight"] = "1" }, `unknown option "weight"`},
		{"bad tg", func(o map[string]string) { o["tg.green"] = "green" }, "want a target group ARN"},
		{"bad rule", func(o map[string]string) { o[OptRuleARN] = "r1" }, "want a listener rule ARN"},
	} {
		opts := map[string]string{}
		for k, v := range good {
			opts[k] = v
		}
		tc.edit(opts)
		_, err := New(opts)
		if !isInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %s containing %q", tc.name, err, ErrTypeInvalid, tc.want)
		}
	}
}

func isInvalid(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == ErrTypeInvalid && ae.NonRetryable()
}
