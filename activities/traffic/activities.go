package traffic

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often a long traffic call reports liveness, well
// under any sensible heartbeat timeout.
const heartbeatEvery = 5 * time.Second

// Activities are the traffic activities. Each call names its provider and
// options, so one worker serves every router a runbook uses. Options hold
// references such as env:NAME, never secrets: they are recorded in history.
type Activities struct {
	// NewRouter builds routers; nil means New.
	NewRouter func(provider string, opts map[string]string) (Router, error)
}

// Target names a router: the provider and its options.
type Target struct {
	Provider string
	Options  map[string]string
}

// SetWeightsInput asks for new weights on some backends.
type SetWeightsInput struct {
	Target
	Weights map[string]int
}

// SetWeightsResult holds every backend's weight as read back afterwards.
type SetWeightsResult struct {
	Weights map[string]int
}

// WeightsInput asks for the current weights.
type WeightsInput struct {
	Target
}

// WeightsResult holds the current weight of every backend.
type WeightsResult struct {
	Weights map[string]int
}

// DrainInput asks to drain one backend, waiting up to Timeout.
type DrainInput struct {
	Target
	Backend string
	Timeout time.Duration
}

// DrainResult reports what was still in flight when the wait ended.
type DrainResult struct {
	Backend  string
	InFlight int
	Drained  bool
}

// SetWeights sets weights and verifies them by reading them back.
func (a *Activities) SetWeights(ctx context.Context, in SetWeightsInput) (SetWeightsResult, error) {
	r, err := a.router(in.Target)
	if err != nil {
		return SetWeightsResult{}, err
	}
	// Heartbeats carry a cancel to this call, which then stops at the
	// router's next request instead of moving traffic after an abort.
	stop := heartbeat(ctx)
	defer stop()
	if err := r.SetWeights(ctx, in.Weights); err != nil {
		return SetWeightsResult{}, err
	}
	w, err := r.Weights(ctx)
	return SetWeightsResult{Weights: w}, err
}

// Weights reports the current weights. It heartbeats like SetWeights: the
// workflow gives router calls a short heartbeat timeout.
func (a *Activities) Weights(ctx context.Context, in WeightsInput) (WeightsResult, error) {
	r, err := a.router(in.Target)
	if err != nil {
		return WeightsResult{}, err
	}
	stop := heartbeat(ctx)
	defer stop()
	w, err := r.Weights(ctx)
	return WeightsResult{Weights: w}, err
}

// Drain drains one backend, heartbeating while it waits so a lost worker is
// noticed before the timeout.
func (a *Activities) Drain(ctx context.Context, in DrainInput) (DrainResult, error) {
	r, err := a.router(in.Target)
	if err != nil {
		return DrainResult{}, err
	}
	stop := heartbeat(ctx)
	defer stop()
	n, err := r.Drain(ctx, in.Backend, in.Timeout)
	if err != nil {
		return DrainResult{}, err
	}
	return DrainResult{Backend: in.Backend, InFlight: n, Drained: n == 0}, nil
}

func (a *Activities) router(t Target) (Router, error) {
	if a.NewRouter != nil {
		return a.NewRouter(t.Provider, t.Options)
	}
	return New(t.Provider, t.Options)
}

// heartbeat records heartbeats until the returned stop is called. Outside
// an activity (plain unit tests) it does nothing.
func heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
