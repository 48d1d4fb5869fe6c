package alb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/runbookhq/runbook/activities/traffic/weights"
)

// SetWeights writes the weights of the named backends into the forward
// action in one ModifyListener (or ModifyRule) call, keeping every other
// action, target group and the stickiness setting as they were, then reads
// the action back and fails unless every weight took effect.
func (r *Router) SetWeights(ctx context.Context, want map[string]int) error {
	if msg := weights.Check("alb", r.backends, want, MaxWeight, func(name string) string {
		return "add option " + OptBackendPrefix + name + "=<target group ARN>"
	}); msg != "" {
		return invalid("%s", msg)
	}
	actions, err := r.actions(ctx)
	if err != nil {
		return err
	}
	i, err := forwardIndex(actions)
	if err != nil {
		return err
	}
	actions[i] = r.reweight(actions[i], want)
	if err := r.write(ctx, actions); err != nil {
		return err
	}
	got, err := r.Weights(ctx)
	if err != nil {
		return fmt.Errorf("alb: weights sent, but reading them back failed: %w", err)
	}
	return weights.Verify(r.String(), want, got)
}

// reweight returns the forward action with new weights. A plain forward to
// one target group (TargetGroupArn) becomes a ForwardConfig with that group
// at the weight it had in effect (100) unless set names it.
func (r *Router) reweight(a types.Action, set map[string]int) types.Action {
	fc := &types.ForwardActionConfig{}
	if a.ForwardConfig != nil {
		fc.TargetGroupStickinessConfig = a.ForwardConfig.TargetGroupStickinessConfig
		fc.TargetGroups = append(fc.TargetGroups, a.ForwardConfig.TargetGroups...)
	} else if a.TargetGroupArn != nil {
		fc.TargetGroups = []types.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn, Weight: aws.Int32(MaxWeight)}}
	}
	for _, name := range weights.Names(set) {
		arn, w := r.backends[name], aws.Int32(int32(set[name]))
		found := false
		for j := range fc.TargetGroups {
			if aws.ToString(fc.TargetGroups[j].TargetGroupArn) == arn {
				fc.TargetGroups[j].Weight, found = w, true
			}
		}
		if !found {
			fc.TargetGroups = append(fc.TargetGroups, types.TargetGroupTuple{TargetGroupArn: aws.String(arn), Weight: w})
		}
	}
	a.TargetGroupArn, a.ForwardConfig = nil, fc
	return a
}

// Weights reports every backend's weight in the forward action; a backend
// whose target group the action does not list has weight 0.
func (r *Router) Weights(ctx context.Context) (map[string]int, error) {
	actions, err := r.actions(ctx)
	if err != nil {
		return nil, err
	}
	i, err := forwardIndex(actions)
	if err != nil {
		return nil, err
	}
	byARN := map[string]int{}
	if fc := actions[i].ForwardConfig; fc != nil && len(fc.TargetGroups) > 0 {
		for _, tg := range fc.TargetGroups {
			byARN[aws.ToString(tg.TargetGroupArn)] = int(aws.ToInt32(tg.Weight))
		}
	} else if actions[i].TargetGroupArn != nil {
		byARN[*actions[i].TargetGroupArn] = MaxWeight
	}
	out := make(map[string]int, len(r.backends))
	for name, arn := range r.backends {
		out[name] = byARN[arn]
	}
	return out, nil
}

// Drain sets the backend's weight to 0, then polls DescribeTargetHealth on
// its target group until no target is in state "draining" or timeout
// passes, and returns how many still are. Weight 0 stops new requests; an
// ALB only reports targets "draining" while they are being deregistered
// (deregistration delay), so this waits for deregistrations in progress,
// e.g. by an auto scaling group, and returns 0 at once when there are none.
func (r *Router) Drain(ctx context.Context, backend string, timeout time.Duration) (int, error) {
	if timeout < 0 {
		return 0, invalid("alb: drain %q: negative timeout %s", backend, timeout)
	}
	if err := r.SetWeights(ctx, map[string]int{backend: 0}); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		n, err := r.draining(ctx, r.backends[backend])
		if err != nil || n == 0 || !time.Now().Before(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-tick.C:
		}
	}
}

// draining counts the target group's targets in state draining.
func (r *Router) draining(ctx context.Context, tgARN string) (int, error) {
	out, err := r.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		return 0, classify("describing target health of "+tgARN, err)
	}
	n := 0
	for _, d := range out.TargetHealthDescriptions {
		if d.TargetHealth != nil && d.TargetHealth.State == types.TargetHealthStateEnumDraining {
			n++
		}
	}
	return n, nil
}

// actions reads the rule's actions, or the listener's default actions.
func (r *Router) actions(ctx context.Context) ([]types.Action, error) {
	if r.ruleARN != "" {
		out, err := r.client.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{r.ruleARN}})
		if err != nil {
			return nil, classify("describing rule "+r.ruleARN, err)
		}
		if len(out.Rules) != 1 {
			return nil, invalid("alb: rule %s not found", r.ruleARN)
		}
		return out.Rules[0].Actions, nil
	}
	out, err := r.client.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{r.listenerARN}})
	if err != nil {
		return nil, classify("describing listener "+r.listenerARN, err)
	}
	if len(out.Listeners) != 1 {
		return nil, invalid("alb: listener %s not found", r.listenerARN)
	}
	return out.Listeners[0].DefaultActions, nil
}

// write replaces the rule's actions, or the listener's default actions.
func (r *Router) write(ctx context.Context, actions []types.Action) error {
	if r.ruleARN != "" {
		_, err := r.client.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(r.ruleARN), Actions: actions})
		if err != nil {
			return classify("modifying rule "+r.ruleARN, err)
		}
		return nil
	}
	_, err := r.client.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(r.listenerARN), DefaultActions: actions})
	if err != nil {
		return classify("modifying listener "+r.listenerARN, err)
	}
	return nil
}

// forwardIndex finds the one forward action.
func forwardIndex(actions []types.Action) (int, error) {
	found := -1
	for i, a := range actions {
		if a.Type == types.ActionTypeEnumForward {
			if found >= 0 {
				return 0, invalid("alb: more than one forward action: weight one rule with option %s", OptRuleARN)
			}
			found = i
		}
	}
	if found < 0 {
		return 0, invalid("alb: no forward action to weight: make the listener's default action (or the rule's) forward to the target groups")
	}
	return found, nil
}
