package terraform

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// TestActivityEnvironment runs Plan and Apply as Temporal activities and
// reads their heartbeat details. The SDK sends the first heartbeat at once
// and batches later ones, so each activity shows its first progress.
func TestActivityEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(f.a)
	var mu sync.Mutex
	var beats []Progress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p Progress
		if err := d.Get(&p); err != nil {
			t.Errorf("heartbeat details: %v", err)
		}
		mu.Lock()
		beats = append(beats, p)
		mu.Unlock()
	})

	ws := f.ws("1.0.0")
	v, err := env.ExecuteActivity(f.a.Plan, PlanInput{Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	var p PlanResult
	if err := v.Get(&p); err != nil || !p.Changes {
		t.Fatalf("plan result %+v, %v", p, err)
	}
	v, err = env.ExecuteActivity(f.a.Apply, ApplyInput{Workspace: ws, PlanFile: p.PlanFile, PlanHash: p.PlanHash})
	if err != nil {
		t.Fatal(err)
	}
	var res ApplyResult
	if err := v.Get(&res); err != nil || res.Applied != 2 {
		t.Fatalf("apply result %+v, %v", res, err)
	}
	checkOutputs(t, res.Outputs, "1.0.0")

	mu.Lock()
	defer mu.Unlock()
	var sawPlan, sawApply bool
	for _, b := range beats {
		sawPlan = sawPlan || b.Phase == "init" || b.Phase == "plan"
		sawApply = sawApply || b.Phase == "apply" && b.Total == 2
	}
	if !sawPlan || !sawApply {
		t.Errorf("heartbeats %+v: want one from Plan and one from Apply with Total 2", beats)
	}
}

// TestCancelApply cancels an apply while its local-exec sleeps for 30 s:
// it must return promptly through OpenTofu's graceful interrupt and leave
// a usable, unlocked state.
func TestCancelApply(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	started := make(chan struct{})
	var once sync.Once
	f.a.observe = func(p Progress) {
		if p.Phase == "apply" && p.Current == "terraform_data.release" {
			once.Do(func() { close(started) })
		}
	}
	slow := f.ws("1.0.0", "sleep_seconds", "30")
	p := f.plan(slow)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.a.Apply(ctx, ApplyInput{Workspace: slow, PlanFile: p.PlanFile, PlanHash: p.PlanHash})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("apply ended before the slow resource started: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the slow resource did not start within a minute")
	}

	// While it runs, the workspace is busy: a plan is refused, retryably.
	_, err := f.a.Plan(t.Context(), PlanInput{Workspace: slow})
	appErr(t, err, ErrLocked, false)

	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		t.Logf("apply returned %v after %s", err, time.Since(cancelled).Round(time.Millisecond))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled apply returned %v, want context.Canceled", err)
		}
	case <-time.After(35 * time.Second):
		t.Fatal("apply did not stop within 35 s of the cancel")
	}

	// The interrupted plan may have been partly applied: refused.
	_, err = f.a.Apply(t.Context(), ApplyInput{Workspace: slow, PlanFile: p.PlanFile, PlanHash: p.PlanHash})
	appErr(t, err, ErrPlanStale, true)
	if _, err := os.Stat(filepath.Join(f.workdir(), ".terraform.tfstate.lock.info")); !os.IsNotExist(err) {
		t.Errorf("lock info left behind: %v", err)
	}
	// The state is unlocked and usable: a new plan and apply finish the job.
	ws := f.ws("1.0.0")
	f.release(ws)
	if got, _ := f.deployed(); got != "1.0.0" {
		t.Errorf("deployed %q after recovery, want 1.0.0", got)
	}
}

// TestCancelledActivity checks that Temporal records a cancel, not a failure.
func TestCancelledActivity(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := f.a.Plan(ctx, PlanInput{Workspace: f.ws("1.0.0")})
	var ae *temporal.ApplicationError
	if !errors.Is(err, context.Canceled) || errors.As(err, &ae) {
		t.Errorf("plan with a cancelled context = %v, want context.Canceled", err)
	}
}
