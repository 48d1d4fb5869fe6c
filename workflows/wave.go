package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/runbookhq/runbook/runbooks"
)

// runWave runs the environments of one wave (indexes idx, consecutive in
// the runbook) in parallel, at most the wave's max-parallel at once. With
// on-failure stop (the default) a failure starts no more of them; those
// running finish either way, each rolling back itself if it fails. The
// release fails after the wave if any environment did, with the first
// failure's reason. Only inputs with a wave reach it, so releases started
// before waves replay as they ran.
func (r *release) runWave(ctx workflow.Context, idx []int) error {
	w := r.in.Runbook.Waves[r.in.Runbook.Environments[idx[0]].Wave]
	limit := w.MaxParallel
	if limit <= 0 {
		limit = len(idx)
	}
	stopOnFailure := w.OnFailure != runbooks.WaveContinue
	pending := slices.Clone(idx)
	// running is kept in index order (a slice, not a map: a replay must
	// select among the children in the same order).
	var running []runningEnv
	var failures []error
	var state, reason string // of the first failure, the release's once the wave ends
	running0, reason0 := r.status.State, r.status.Reason
	failed := func(err error) {
		failures = append(failures, err)
		if state == "" {
			state, reason = r.status.State, r.status.Reason
		}
		// The release runs on while the rest of the wave does: decisions
		// for the environments still running must reach them.
		r.status.State, r.status.Reason = running0, reason0
		if stopOnFailure {
			pending = nil
		}
	}
	for len(pending) > 0 || len(running) > 0 {
		for len(running) < limit && len(pending) > 0 {
			i := pending[0]
			pending = pending[1:]
			child, err := r.startEnvironment(ctx, i)
			if err != nil {
				failed(err)
				continue
			}
			running = append(running, runningEnv{i, child})
		}
		if len(running) == 0 {
			break
		}
		k := r.awaitOne(ctx, running)
		done := running[k]
		running = slices.Delete(running, k, k+1)
		if err := r.finishEnvironment(ctx, done.i, done.child); err != nil {
			failed(err)
		}
		r.status.CurrentEnvironment = ""
		if len(running) > 0 {
			r.status.CurrentEnvironment = r.status.Environments[running[0].i].Name
		}
		r.refresh(ctx)
	}
	r.markWaveNotReached(idx)
	if len(failures) > 0 {
		r.status.State, r.status.Reason = state, reason
		return failures[0]
	}
	return nil
}

// runningEnv is a started environment of a wave.
type runningEnv struct {
	i     int
	child workflow.ChildWorkflowFuture
}

// awaitOne applies the running environments' progress until one of them
// closes, and returns its position in running.
func (r *release) awaitOne(ctx workflow.Context, running []runningEnv) int {
	done := -1
	sel := workflow.NewSelector(ctx)
	for k, re := range running {
		sel.AddFuture(re.child, func(workflow.Future) {
			if done < 0 {
				done = k
			}
		})
	}
	sel.AddReceive(r.progress, func(c workflow.ReceiveChannel, _ bool) {
		var st EnvironmentStatus
		c.Receive(ctx, &st)
		if i := slices.IndexFunc(r.status.Environments, func(e EnvironmentStatus) bool { return e.Name == st.Name }); i >= 0 {
			r.apply(ctx, i, st)
		}
	})
	for done < 0 {
		sel.Select(ctx)
	}
	return done
}

// markWaveNotReached marks the wave's environments a failure kept from
// starting.
func (r *release) markWaveNotReached(idx []int) {
	for _, i := range idx {
		if r.status.Environments[i].State == StatePending {
			r.status.Environments[i].State = StateNotReached
		}
	}
}
