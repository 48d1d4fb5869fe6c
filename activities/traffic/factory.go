package traffic

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/traffic/alb"
	"github.com/runbookhq/runbook/activities/traffic/edgerouter"
	"github.com/runbookhq/runbook/activities/traffic/haproxy"
	"github.com/runbookhq/runbook/activities/traffic/route53"
)

// The providers implement Router without importing this package (so this
// one can import them); these lines keep them honest.
var (
	_ Router = (*edgerouter.Router)(nil)
	_ Router = (*alb.Router)(nil)
	_ Router = (*route53.Router)(nil)
	_ Router = (*haproxy.Router)(nil)
)

// New builds the router for provider from its options. An unknown or not yet
// implemented provider is a non-retryable validation error.
func New(provider string, opts map[string]string) (Router, error) {
	switch provider {
	case "edge":
		return edgerouter.New(opts)
	case "haproxy":
		return haproxy.New(opts)
	case "alb":
		return alb.New(opts)
	case "route53":
		return route53.New(opts)
	default:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"unknown traffic provider %q; known: %s",
			provider, strings.Join(Providers, ", ")), ErrTypeInvalid, nil)
	}
}
