// Package alb is the traffic router for an AWS Application Load Balancer:
// it shifts traffic by the weights of the target groups in one weighted
// forward action, either a listener's default action or one listener rule's.
//
// Weights are percentages written as ELBv2 weights directly: SetWeights(80/20)
// writes Weight 80 and 20. ELBv2 weights are relative (0..999) and the share
// of a target group is its weight over the sum, so percentages that add up to
// 100 mean what they say. Weights reports the raw ELBv2 weights as read; if
// someone else wrote weights that are not percentages, that is what a person
// sees.
//
// Credentials come from the SDK's default chain (environment, shared files,
// instance or task role); options never hold them and nothing here logs them.
package alb

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/awsconf"
)

// Options a runbook may give the alb provider.
const (
	// OptListenerARN is the listener whose default forward action is weighted (required).
	OptListenerARN = "listener-arn"
	// OptRuleARN, when set, names the listener rule whose forward action is
	// weighted instead of the default action.
	OptRuleARN = "rule-arn"
	// OptRegion overrides the region of the default chain.
	OptRegion = "region"
	// OptEndpoint overrides the ELBv2 endpoint URL (tests, moto, VPC endpoints).
	OptEndpoint = "endpoint"
	// OptBackendPrefix starts one option per backend: "tg.<name>" = target group ARN.
	OptBackendPrefix = "tg."
)

// ErrTypeInvalid equals traffic.ErrTypeInvalid (this package cannot import
// traffic, which imports it); a test keeps the two in step.
const ErrTypeInvalid = "TrafficInvalid"

// MaxWeight is the largest weight a backend may be given: a percentage.
const MaxWeight = 100

// pollEvery is how often Drain asks for target health.
const pollEvery = time.Second

// Router drives the weighted forward action of one listener or rule.
type Router struct {
	client      *elbv2.Client
	listenerARN string
	ruleARN     string
	// backends maps backend name to target group ARN.
	backends map[string]string
}

// New builds a Router from options (see the Opt constants), loading AWS
// credentials from the default chain.
func New(opts map[string]string) (*Router, error) {
	backends, err := parseOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconf.Load(opts[OptRegion], opts[OptEndpoint])
	if err != nil {
		return nil, fmt.Errorf("alb: loading AWS configuration: %w", err)
	}
	return NewWithConfig(cfg, opts[OptListenerARN], opts[OptRuleARN], backends), nil
}

// NewWithConfig builds a Router from a ready aws.Config; backends maps name
// to target group ARN.
func NewWithConfig(cfg aws.Config, listenerARN, ruleARN string, backends map[string]string) *Router {
	return &Router{client: elbv2.NewFromConfig(cfg), listenerARN: listenerARN, ruleARN: ruleARN, backends: backends}
}

func parseOptions(opts map[string]string) (map[string]string, error) {
	backends := map[string]string{}
	for k, v := range opts {
		switch {
		case k == OptListenerARN || k == OptRuleARN || k == OptRegion || k == OptEndpoint:
		case strings.HasPrefix(k, OptBackendPrefix) && len(k) > len(OptBackendPrefix):
			if !strings.HasPrefix(v, "arn:") {
				return nil, invalid("alb: option %s=%q: want a target group ARN", k, v)
			}
			backends[strings.TrimPrefix(k, OptBackendPrefix)] = v
		default:
			return nil, invalid("alb: unknown option %q; known: %s, %s, %s, %s, %s<backend>", k,
				OptListenerARN, OptRuleARN, OptRegion, OptEndpoint, OptBackendPrefix)
		}
	}
	if !strings.HasPrefix(opts[OptListenerARN], "arn:") {
		return nil, invalid("alb: option %s is required: the ARN of the listener to weight", OptListenerARN)
	}
	if r := opts[OptRuleARN]; r != "" && !strings.HasPrefix(r, "arn:") {
		return nil, invalid("alb: option %s=%q: want a listener rule ARN", OptRuleARN, r)
	}
	if len(backends) == 0 {
		return nil, invalid("alb: no backends: give one option %s<name>=<target group ARN> per backend", OptBackendPrefix)
	}
	return backends, nil
}

// String names the listener (or rule) the router weights.
func (r *Router) String() string {
	if r.ruleARN != "" {
		return "alb router on rule " + r.ruleARN
	}
	return "alb router on listener " + r.listenerARN
}

// LogValue logs the router as its String.
func (r *Router) LogValue() slog.Value { return slog.StringValue(r.String()) }

// notFoundCodes are ELBv2 error codes that retrying cannot fix: the runbook
// names something that does not exist or asks for something invalid.
var notFoundCodes = map[string]bool{
	"ListenerNotFound": true, "RuleNotFound": true, "TargetGroupNotFound": true,
	"LoadBalancerNotFound": true, "ValidationError": true, "InvalidConfigurationRequest": true,
	"TargetGroupAssociationLimit": true, "TooManyTargetGroups": true, "OperationNotPermitted": true,
}

// classify turns permanent ELBv2 errors into non-retryable TrafficInvalid
// errors and wraps the rest (throttling, network) so they retry.
func classify(what string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && notFoundCodes[ae.ErrorCode()] {
		return invalid("alb: %s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("alb: %s: %w", what, err)
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalid, nil)
}
