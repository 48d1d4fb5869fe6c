package traffic

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/activities/traffic/edge"
)

// The providers implement Router without importing this package (so this
// one can import them); these lines keep them honest.
var _ Router = (*edge.Router)(nil)

// New builds the router for provider from its options. An unknown or not yet
// implemented provider is a non-retryable validation error.
func New(provider string, opts map[string]string) (Router, error) {
	switch provider {
	case "edge":
		return edge.New(opts)
	default:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"unknown traffic provider %q; known: %s (only edge is implemented so far)",
			provider, strings.Join(Providers, ", ")), ErrTypeInvalid, nil)
	}
}
