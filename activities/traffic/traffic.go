// Package traffic shifts live traffic between the versions of a service.
// Router is the one interface every provider implements; New builds one from
// the provider name and options a runbook gives, and Activities exposes the
// routers to workflows. One implementation lives per subpackage (edge: the
// embedded local proxy, `runbook edge`).
package traffic

import (
	"context"
	"time"
)

// Router moves traffic between named backends.
type Router interface {
	// SetWeights sets the weights (0..100) of the named backends in one
	// change, then reads them back and fails unless every one took effect.
	// Backends not named keep their weight.
	SetWeights(ctx context.Context, weights map[string]int) error
	// Weights reports the current weight of every backend.
	Weights(ctx context.Context) (map[string]int, error)
	// Drain sets the backend's weight to 0 and waits up to timeout for its
	// requests in flight to finish. It returns how many are still running:
	// 0 means drained.
	Drain(ctx context.Context, backend string, timeout time.Duration) (int, error)
}

// Error types, visible in the Temporal UI.
const (
	// ErrTypeInvalid is a request that can never succeed as written
	// (unknown provider, bad option, weight out of range, unknown backend):
	// not retried.
	ErrTypeInvalid = "TrafficInvalid"
)
