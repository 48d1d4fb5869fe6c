package traffic

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/traffic/alb"
	"github.com/runbookhq/runbook/activities/traffic/edgerouter"
	"github.com/runbookhq/runbook/activities/traffic/haproxy"
	"github.com/runbookhq/runbook/activities/traffic/route53"
	"github.com/runbookhq/runbook/internal/providers"
)

// Factory builds a router from its string options (from the runbook;
// secrets are given as "env:NAME").
type Factory func(opts map[string]string) (Router, error)

// routers is the registry: every router this package can build, by the
// name runbooks use (internal/providers lists the same names; a test
// checks that they agree). The providers implement Router without
// importing this package, so the table can name them directly; factory
// also checks at compile time that each one implements Router.
var routers = map[string]Factory{
	"edge":    factory(edgerouter.New),
	"haproxy": factory(haproxy.New),
	"alb":     factory(alb.New),
	"route53": factory(route53.New),
}

// factory adapts a provider's constructor to a Factory. A failed
// constructor yields a nil Router, not a typed nil pointer that would
// compare unequal to nil.
func factory[R Router](newRouter func(map[string]string) (R, error)) Factory {
	return func(opts map[string]string) (Router, error) {
		r, err := newRouter(opts)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// New builds the router for provider from its options. An unknown provider
// is a non-retryable validation error that lists the known ones.
func New(provider string, opts map[string]string) (Router, error) {
	f, ok := routers[provider]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"unknown traffic provider %q; known: %s",
			provider, strings.Join(providers.Traffic(), ", ")), ErrTypeInvalid, nil)
	}
	return f(opts)
}
