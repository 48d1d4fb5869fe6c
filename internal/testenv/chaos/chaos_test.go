package chaos

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

type effects struct{ n int }

// Apply stands for an activity with an effect: it counts its runs.
func (e *effects) Apply(_ context.Context, what string) (string, error) {
	e.n++
	return "applied " + what, nil
}

func run(t *testing.T, plan string, e *effects, arg string) (string, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{New(plan)}})
	env.RegisterActivity(e)
	v, err := env.ExecuteActivity(e.Apply, arg)
	if err != nil {
		return "", err
	}
	var out string
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

// TestErrorFiresOnceAtTheMoment: the plan's error comes before or after the
// effect as asked, only for the matching call, and only once.
func TestErrorFiresOnceAtTheMoment(t *testing.T) {
	for _, tc := range []struct {
		moment  Moment
		effects int
	}{{Before, 0}, {After, 1}} {
		t.Run(string(tc.moment), func(t *testing.T) {
			plan := filepath.Join(t.TempDir(), "plan.json")
			if err := WritePlan(plan, Plan{Activity: "Apply", Match: "green", Moment: tc.moment, Fault: Error}); err != nil {
				t.Fatal(err)
			}
			e := &effects{}
			if _, err := run(t, plan, e, "blue"); err != nil {
				t.Fatalf("a call the plan does not match failed: %v", err)
			}
			_, err := run(t, plan, e, "green")
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != ErrTypeInjected {
				t.Fatalf("matching call: error %v, want the injected %s", err, ErrTypeInjected)
			}
			if e.n != 1+tc.effects {
				t.Errorf("%d effects, want %d (the unmatched call, plus the faulted one's if after)", e.n, 1+tc.effects)
			}
			f, ok, err := ReadFired(filepath.Dir(plan))
			if err != nil || !ok || f.Moment != tc.moment || f.EffectDone != (tc.moment == After) {
				t.Errorf("fired record %+v (ok %t, err %v)", f, ok, err)
			}
			if _, err := run(t, plan, e, "green"); err != nil {
				t.Errorf("the fault fired twice: %v", err)
			}
		})
	}
}
