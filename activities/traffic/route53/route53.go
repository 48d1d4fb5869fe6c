// Package route53 is the traffic router for Amazon Route 53 weighted
// records: one record name and type, one weighted record set per backend,
// told apart by SetIdentifier.
//
// Weights are percentages written as Route 53 weights directly (Route 53
// accepts 0..255 and shares traffic by weight over the sum), so percentages
// that add up to 100 mean what they say. Weights reports the raw weights as
// read.
//
// DNS shifts traffic only as fast as resolvers drop cached answers (the
// records' TTL); SetWeights verifies what Route 53's API holds, not what
// clients resolve. Credentials come from the SDK's default chain; options
// never hold them and nothing here logs them.
package route53

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/awsconf"
)

// Options a runbook may give the route53 provider.
const (
	// OptHostedZoneID is the hosted zone holding the records (required).
	OptHostedZoneID = "hosted-zone-id"
	// OptRecordName is the weighted record's name, e.g. api.example.com (required).
	OptRecordName = "record-name"
	// OptRecordType is the record type. Unset, the backends' records decide:
	// A, AAAA or CNAME, whichever they are, and it is an error if they differ.
	OptRecordType = "record-type"
	// OptRegion overrides the region of the default chain.
	OptRegion = "region"
	// OptEndpoint overrides the Route 53 endpoint URL (tests, moto).
	OptEndpoint = "endpoint"
	// OptBackendPrefix starts one option per backend: "set.<name>" = the
	// record's SetIdentifier.
	OptBackendPrefix = "set."
)

// ErrTypeInvalid equals traffic.ErrTypeInvalid (this package cannot import
// traffic, which imports it); a test keeps the two in step.
const ErrTypeInvalid = "TrafficInvalid"

// MaxWeight is the largest weight a backend may be given: a percentage.
const MaxWeight = 100

// autoTypes are the record types accepted when OptRecordType is unset.
var autoTypes = map[types.RRType]bool{types.RRTypeA: true, types.RRTypeAaaa: true, types.RRTypeCname: true}

// Router drives the weighted record sets of one name.
type Router struct {
	client     *r53.Client
	zone       string
	name       string
	recordType types.RRType
	// backends maps backend name to SetIdentifier.
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
		return nil, fmt.Errorf("route53: loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // Route 53 is global; the SDK still wants a region to sign for.
	}
	return &Router{
		client: r53.NewFromConfig(cfg), zone: opts[OptHostedZoneID], name: opts[OptRecordName],
		recordType: types.RRType(strings.ToUpper(opts[OptRecordType])), backends: backends,
	}, nil
}

func parseOptions(opts map[string]string) (map[string]string, error) {
	backends := map[string]string{}
	for k, v := range opts {
		switch {
		case k == OptHostedZoneID || k == OptRecordName || k == OptRecordType || k == OptRegion || k == OptEndpoint:
		case strings.HasPrefix(k, OptBackendPrefix) && len(k) > len(OptBackendPrefix):
			if v == "" {
				return nil, invalid("route53: option %s is empty: want the record's SetIdentifier", k)
			}
			backends[strings.TrimPrefix(k, OptBackendPrefix)] = v
		default:
			return nil, invalid("route53: unknown option %q; known: %s, %s, %s, %s, %s, %s<backend>", k,
				OptHostedZoneID, OptRecordName, OptRecordType, OptRegion, OptEndpoint, OptBackendPrefix)
		}
	}
	for _, req := range []string{OptHostedZoneID, OptRecordName} {
		if opts[req] == "" {
			return nil, invalid("route53: option %s is required", req)
		}
	}
	if t := types.RRType(strings.ToUpper(opts[OptRecordType])); t != "" && !validType(t) {
		return nil, invalid("route53: option %s=%q is not a record type", OptRecordType, opts[OptRecordType])
	}
	if len(backends) == 0 {
		return nil, invalid("route53: no backends: give one option %s<name>=<SetIdentifier> per backend", OptBackendPrefix)
	}
	return backends, nil
}

func validType(t types.RRType) bool {
	for _, v := range t.Values() {
		if v == t {
			return true
		}
	}
	return false
}

// String names the record the router weights.
func (r *Router) String() string {
	return fmt.Sprintf("route53 router on %s in zone %s", r.name, r.zone)
}

// LogValue logs the router as its String.
func (r *Router) LogValue() slog.Value { return slog.StringValue(r.String()) }

// permanentCodes are Route 53 error codes that retrying cannot fix.
var permanentCodes = map[string]bool{
	"NoSuchHostedZone": true, "InvalidInput": true, "InvalidChangeBatch": true,
	"InvalidArgument": true, "AccessDenied": true,
}

// classify turns permanent errors into non-retryable TrafficInvalid errors
// and wraps the rest (throttling, PriorRequestNotComplete, network) so they
// retry.
func classify(what string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && permanentCodes[ae.ErrorCode()] {
		return invalid("route53: %s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("route53: %s: %w", what, err)
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeInvalid, nil)
}
