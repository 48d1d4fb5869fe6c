// Package providers is the one list of provider names the runbook format
// accepts: the traffic routers and the metrics providers, in the order error
// messages and docs list them.
//
// It holds names only, no code, so that both sides can import it: the
// runbooks validator and JSON Schema (which must not import the activities
// and their cloud SDKs) and the factory tables that build the providers
// (activities/traffic for routers, worker for metrics providers). Each table
// has a test that fails when its keys and these names disagree, and so do the
// README and the schema; adding a provider starts here.
package providers

import "slices"

var (
	traffic = []string{"edge", "haproxy", "alb", "route53"}
	metrics = []string{"edge", "prometheus", "cloudwatch", "web"}
	flags   = []string{"file", "flagd", "unleash", "launchdarkly"}
)

// Traffic returns the traffic router names a runbook's traffic.provider may
// take. The slice is a copy: callers may not change the list.
func Traffic() []string { return slices.Clone(traffic) }

// Metrics returns the metrics provider names a runbook's metrics.provider may
// take. The slice is a copy: callers may not change the list.
func Metrics() []string { return slices.Clone(metrics) }

// Flags returns the feature flag provider names a runbook's flags.provider
// may take. The slice is a copy: callers may not change the list.
func Flags() []string { return slices.Clone(flags) }
