package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/runbookhq/runbook/activities/audit"
	"github.com/runbookhq/runbook/activities/freezes"
	"github.com/runbookhq/runbook/activities/metrics"
	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/workflows"
)

// failedStates are the RunbookStatus values of a release that failed.
var failedStates = []string{workflows.StateFailed, workflows.StateRolledBack, workflows.StateRollbackIncomplete, workflows.StateAborted}

// BreakerRunner evaluates the breaker against the real visibility store
// and the Freezes workflow, and declares the freezes it trips. It keeps no
// state of its own: what it decides from (closed releases, freezes and
// their lifts) is all in Temporal, so a restarted worker decides the same.
type BreakerRunner struct {
	Config   *Breaker
	Releases *releases.Client
	Audit    audit.Store
	// Metrics builds the burn rules' providers (the worker's table).
	Metrics metrics.Factories
	Now     func() time.Time
	// mu makes one check at a time in this process: two at once could
	// both see no freeze and declare two.
	mu    sync.Mutex
	once  sync.Once
	kicks chan struct{}
}

func (b *BreakerRunner) kickChan() chan struct{} {
	b.once.Do(func() { b.kicks = make(chan struct{}, 1) })
	return b.kicks
}

// Kick asks for a check now (after an alert acted on a release); it never
// blocks, and kicks before a check starts make one check.
func (b *BreakerRunner) Kick() {
	select {
	case b.kickChan() <- struct{}{}:
	default:
	}
}

// Check evaluates the rules once and declares a freeze for each trip.
func (b *BreakerRunner) Check(ctx context.Context) ([]freezes.Freeze, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.Now != nil {
		now = b.Now()
	}
	longest := time.Duration(0)
	for _, r := range b.Config.Rules {
		longest = max(longest, r.Within.D())
	}
	fails, err := b.failures(ctx, now.Add(-longest))
	if err != nil {
		return nil, err
	}
	frz, err := b.Releases.Freezes(ctx)
	if err != nil {
		return nil, fmt.Errorf("breaker: read freezes: %w", err)
	}
	var made []freezes.Freeze
	trips := Evaluate(b.Config.Rules, fails, frz, now)
	trips = append(trips, b.burnTrips(ctx, trips, frz, now)...)
	for _, t := range trips {
		// Once: another worker's breaker may trip on the same failures in
		// the same instant; the Freezes workflow keeps the first freeze.
		in := freezes.CreateInput{Reason: t.Reason(), Actor: BreakerActor, Once: breakerOnce(t.Service)}
		if t.Service != "" {
			in.Services = []string{t.Service}
		}
		f, err := b.Releases.CreateFreeze(ctx, in)
		if err != nil {
			return made, fmt.Errorf("breaker: declare the freeze of %s: %w", scopeName(t.Service), err)
		}
		if f.Repeat {
			slog.Info("breaker: tripped, and the freeze was already declared (by another worker)", "freeze", f.ID, "scope", f.Scope())
			continue
		}
		made = append(made, f)
		slog.Warn("breaker: tripped; automatic freeze declared", "freeze", f.ID, "scope", f.Scope(), "failures", len(t.Evidence), "burn", t.Burn != nil)
		b.audit(ctx, f, now)
	}
	return made, nil
}

// burnTrips measures each burn rule whose scope did not trip already; a
// rule that cannot be measured is logged and skipped, not a failed check.
func (b *BreakerRunner) burnTrips(ctx context.Context, already []Trip, frz []freezes.Freeze, now time.Time) []Trip {
	var out []Trip
	for _, r := range b.Config.Burn {
		if slices.ContainsFunc(append(already, out...), func(t Trip) bool { return t.Service == r.Service }) {
			continue
		}
		if burnBlocked(r, frz, now) {
			continue // held or cooling down: no need to measure
		}
		v, err := measureBurn(ctx, b.Metrics, r)
		if err != nil {
			slog.Warn("breaker: burn rule not measured", "rule", r.Name, "error", err)
			continue
		}
		if t, ok := BurnTrip(r, v, frz, now); ok {
			out = append(out, t)
		}
	}
	return out
}

// breakerOnce is the Once of the breaker's freeze of a service ("" for the
// namespace): one freeze per scope, whichever worker trips first.
func breakerOnce(svc string) string {
	if svc == "" {
		return "breaker/namespace"
	}
	return "breaker/service/" + svc
}

func scopeName(svc string) string {
	if svc == "" {
		return "the namespace"
	}
	return svc
}

// audit records the trip beside the freeze workflow's own audit entry.
func (b *BreakerRunner) audit(ctx context.Context, f freezes.Freeze, now time.Time) {
	if b.Audit == nil {
		return
	}
	svc := strings.Join(f.Services, ",")
	if _, err := b.Audit.Append(ctx, audit.Entry{ID: "breaker/" + f.ID, Time: now, Actor: BreakerActor, Action: "breaker.tripped",
		Service: svc, Outcome: "frozen", Detail: f.ID + ": " + f.Reason}); err != nil {
		slog.Error("breaker: audit entry not written", "freeze", f.ID, "error", err)
	}
}

// failures are the releases closed since then that failed, and the
// rollback releases closed since then, read from the visibility store.
func (b *BreakerRunner) failures(ctx context.Context, since time.Time) ([]Failure, error) {
	q := fmt.Sprintf("WorkflowType = '%s' AND CloseTime > '%s'", workflows.ReleaseWorkflowName, since.UTC().Format(time.RFC3339Nano))
	var out []Failure
	var token []byte
	for {
		resp, err := b.Releases.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: b.Releases.Namespace, Query: q, PageSize: 200, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("breaker: list releases (%s): %w", q, err)
		}
		for _, e := range resp.GetExecutions() {
			fields := e.GetSearchAttributes().GetIndexedFields()
			f := Failure{ReleaseID: e.GetExecution().GetWorkflowId(), Service: keyword(fields["RunbookService"]),
				State: keyword(fields["RunbookStatus"]), ClosedAt: e.GetCloseTime().AsTime()}
			if strings.HasPrefix(f.ReleaseID, "rollback/") {
				f.State = "rollback"
			} else if !slices.Contains(failedStates, f.State) {
				continue
			}
			if st, err := b.Releases.Status(ctx, f.ReleaseID); err == nil {
				f.Reason = st.Reason
				if st.Rollback != nil {
					f.Reason = "rolled back " + st.Rollback.Of
				}
			}
			out = append(out, f)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b Failure) int { return a.ClosedAt.Compare(b.ClosedAt) })
	return out, nil
}

// Start checks at once, then every CheckEvery and after each Kick, until
// ctx ends; the returned stop waits for a check under way.
func (b *BreakerRunner) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	kicks := b.kickChan()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(b.Config.CheckEvery.D())
		defer t.Stop()
		for {
			if _, err := b.Check(ctx); err != nil && ctx.Err() == nil {
				slog.Error("breaker: check failed; trying again at the next one", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-kicks:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// keyword decodes a Keyword search attribute; a missing one is "".
func keyword(p *commonpb.Payload) string {
	var s string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}
