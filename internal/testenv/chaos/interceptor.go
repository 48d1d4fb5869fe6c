package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// ErrTypeInjected is the type of the transient error the Error fault returns.
const ErrTypeInjected = "ChaosInjected"

// maxHold bounds a barrier or a timeout hold, so a driver that died never
// leaves a worker blocked for good.
const maxHold = 4 * time.Minute

// Interceptor is a worker interceptor that fires the plan at PlanPath.
type Interceptor struct {
	interceptor.WorkerInterceptorBase
	// PlanPath is the plan file; without it nothing is injected.
	PlanPath string

	mu   sync.Mutex
	seen map[string]int // matching first attempts seen, per plan
}

// New returns an interceptor driven by the plan file at path.
func New(path string) *Interceptor {
	return &Interceptor{PlanPath: path, seen: map[string]int{}}
}

// InterceptActivity wraps every activity execution, local ones included.
func (i *Interceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &activityInbound{root: i}
	a.Next = next
	return a
}

// activityInbound is one activity execution.
type activityInbound struct {
	interceptor.ActivityInboundInterceptorBase
	root *Interceptor
	// mute drops heartbeats while a Timeout fault holds the activity, so
	// Temporal's heartbeat timeout can fire.
	mute atomic.Bool
}

// Init wraps the outbound calls to mute heartbeats on demand.
func (a *activityInbound) Init(outbound interceptor.ActivityOutboundInterceptor) error {
	o := &activityOutbound{in: a}
	o.Next = outbound
	return a.Next.Init(o)
}

type activityOutbound struct {
	interceptor.ActivityOutboundInterceptorBase
	in *activityInbound
}

// RecordHeartbeat drops the heartbeat while the activity is held.
func (o *activityOutbound) RecordHeartbeat(ctx context.Context, details ...any) {
	if o.in.mute.Load() {
		return
	}
	o.Next.RecordHeartbeat(ctx, details...)
}

// ExecuteActivity runs the activity, firing the plan's fault when this is
// the execution it names.
func (a *activityInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	p, ok := a.root.claim(ctx, in)
	if !ok {
		return a.Next.ExecuteActivity(ctx, in)
	}
	run := func() (any, error) { return a.Next.ExecuteActivity(ctx, in) }
	switch p.Moment {
	case Before:
		if err := a.fire(ctx, p, false); err != nil {
			return nil, err
		}
		return run()
	case After:
		res, err := run()
		if ferr := a.fire(ctx, p, true); ferr != nil {
			return nil, ferr
		}
		return res, err
	default:
		return a.during(ctx, p, run)
	}
}

// during starts the effect and fires the fault while it runs (or as soon as
// it is done, when it is quicker than p.During).
func (a *activityInbound) during(ctx context.Context, p Plan, run func() (any, error)) (any, error) {
	type outcome struct {
		res any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := run()
		done <- outcome{res, err}
	}()
	var early *outcome
	select {
	case o := <-done:
		early = &o
	case <-time.After(p.During):
	}
	if err := a.fire(ctx, p, early != nil); err != nil {
		return nil, err
	}
	if early != nil {
		return early.res, early.err
	}
	o := <-done
	return o.res, o.err
}

// claim reports whether this execution is the one the plan names, and
// claims the fault so it fires once, across worker restarts.
func (i *Interceptor) claim(ctx context.Context, in *interceptor.ExecuteActivityInput) (Plan, bool) {
	p, ok, err := ReadPlan(i.PlanPath)
	if err != nil {
		slog.Warn("chaos: unreadable plan", "error", err)
		return Plan{}, false
	}
	info := activity.GetInfo(ctx)
	if !ok || info.ActivityType.Name != p.Activity || info.Attempt != 1 {
		return Plan{}, false
	}
	if p.Match != "" {
		b, err := json.Marshal(in.Args)
		if err != nil || !strings.Contains(string(b), p.Match) {
			return Plan{}, false
		}
	}
	i.mu.Lock()
	key := p.Activity + "\x00" + p.Match
	i.seen[key]++
	n := i.seen[key]
	i.mu.Unlock()
	if n != p.Occurrence {
		return Plan{}, false
	}
	f, err := os.OpenFile(filepath.Join(filepath.Dir(i.PlanPath), FiredFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return Plan{}, false // fired already (or cannot tell): never twice
	}
	_ = f.Close()
	return p, true
}

// fire records the fault and injects it. It returns the error the activity
// must return instead of its own, or nil to let it return its result.
func (a *activityInbound) fire(ctx context.Context, p Plan, effectDone bool) error {
	info := activity.GetInfo(ctx)
	dir := filepath.Dir(a.root.PlanPath)
	rec := Fired{Activity: p.Activity, Attempt: info.Attempt, Moment: p.Moment, Fault: p.Fault,
		Local: info.IsLocalActivity, EffectDone: effectDone, At: time.Now().UTC()}
	b, _ := json.Marshal(rec)
	if err := writeSynced(filepath.Join(dir, FiredFile), b); err != nil {
		slog.Warn("chaos: cannot record the fault", "error", err)
	}
	slog.Warn("chaos: fault fires", "activity", p.Activity, "moment", p.Moment, "fault", p.Fault, "label", p.Label)
	switch p.Fault {
	case Kill:
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught: the process ends here
	case Error:
		return temporal.NewApplicationError("chaos: injected transient error", ErrTypeInjected)
	case Timeout:
		a.mute.Store(true)
		holdPastTimeout(ctx, info)
		return temporal.NewApplicationError("chaos: held past the activity timeout", ErrTypeInjected)
	case Barrier:
		waitBarrier(filepath.Join(dir, BarrierFile), p.Label)
	}
	return nil
}

// holdPastTimeout blocks until the attempt's context ends (start-to-close)
// or, for a heartbeating activity, a little past its heartbeat timeout.
func holdPastTimeout(ctx context.Context, info activity.Info) {
	limit := maxHold
	if info.HeartbeatTimeout > 0 {
		limit = min(limit, info.HeartbeatTimeout+3*time.Second)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waitBarrier creates the barrier file and waits until it is removed.
func waitBarrier(path, label string) {
	if err := writeSynced(path, []byte(label)); err != nil {
		slog.Warn("chaos: cannot create the barrier", "error", err)
		return
	}
	deadline := time.Now().Add(maxHold)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	slog.Warn("chaos: barrier never released", "path", path)
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
