package terraform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hashicorp/terraform-exec/tfexec"
	"go.temporal.io/sdk/temporal"
)

// Apply applies exactly the saved plan in.PlanFile, after checking that it
// still has in.PlanHash, heartbeating {Done, Total, Current} from OpenTofu's
// streamed progress. A plan that is missing, altered, made before the state
// last changed, or whose earlier apply was interrupted is ErrPlanStale and not
// retried: the workflow plans again rather than have this step silently
// apply something nobody reviewed. On success it records the plan's vars and
// version in runbook-last-applied.json and returns the outputs.
//
// A retry after a success whose result was lost returns the same outputs
// instead of failing: the record names the plan it applied.
func (a *Activities) Apply(ctx context.Context, in ApplyInput) (ApplyResult, error) {
	w, release, err := a.open(in.Workspace)
	if err != nil {
		return ApplyResult{}, err
	}
	defer release()
	id, err := w.planID(in.PlanFile)
	if err != nil {
		return ApplyResult{}, err
	}
	m, done, err := w.checkPlan(id, in.PlanHash)
	switch {
	case err != nil:
		return ApplyResult{}, err
	case done != nil:
		return w.appliedBefore(ctx, done)
	}
	r, _, err := w.prepare(ctx, secretsOf(m.Vars), func() (string, error) { return w.useConfig(w.meta(plansDir, id, "config")) })
	if err != nil {
		return ApplyResult{}, err
	}
	p, err := r.apply(ctx, id, m.Total)
	if err != nil {
		return ApplyResult{}, err
	}
	if err := w.commit(id, m, p.Done, p.Total); err != nil {
		return ApplyResult{}, failed(fmt.Sprintf("apply %s: the plan was applied but recording it failed (%v); check the working directory %s, then plan again", w.name(), err, w.dir), false)
	}
	w.removePlan(id)
	outs, err := r.outputs(ctx)
	return ApplyResult{Outputs: outs, Applied: p.Done, Total: p.Total}, err
}

// checkPlan returns the metadata of a plan that may be applied, or the
// record when this very plan was applied already.
func (w *workdir) checkPlan(id, want string) (*planMeta, *record, error) {
	path := w.planPath(id)
	got, err := fileHash(path)
	if errors.Is(err, fs.ErrNotExist) {
		if rec, _ := w.readRecord(); rec != nil && want != "" && rec.PlanHash == want {
			return nil, rec, nil
		}
		return nil, nil, w.stale("the saved plan %s does not exist on this worker (plans are worker-local and removed once applied); plan again", path)
	}
	if err != nil {
		return nil, nil, failed(fmt.Sprintf("apply %s: read plan: %v", w.name(), err), true)
	}
	if got != want {
		return nil, nil, w.stale("the saved plan %s has hash %s, not %s: it was replaced or altered after it was reviewed; plan again", path, got, want)
	}
	m, err := w.readMeta(id)
	if err != nil {
		return nil, nil, w.stale("the saved plan %s has no readable metadata (%v); plan again", path, err)
	}
	if _, err := os.Stat(w.meta(plansDir, id, applyingMarker)); err == nil {
		return nil, nil, w.stale("an earlier attempt to apply %s was interrupted, so the state may be partly applied; plan again to see what is left", path)
	}
	return m, nil, nil
}

func (w *workdir) stale(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("apply %s: ", w.name())+fmt.Sprintf(format, args...), ErrPlanStale, nil)
}

// apply marks plan id as being applied, then applies it.
func (r *runner) apply(ctx context.Context, id string, total int) (Progress, error) {
	if err := os.WriteFile(r.w.meta(plansDir, id, applyingMarker), nil, 0o600); err != nil {
		return Progress{}, failed(fmt.Sprintf("apply %s: %v", r.w.name(), err), true)
	}
	s := newStream("apply", total)
	err := r.run(ctx, s, func(out io.Writer) error {
		return r.tf.ApplyJSON(ctx, out, tfexec.DirOrPlan(r.w.planPath(id)))
	})
	return s.progress(), err
}

// appliedBefore answers a retried Apply of a plan that was applied already.
func (w *workdir) appliedBefore(ctx context.Context, rec *record) (ApplyResult, error) {
	r, _, err := w.prepare(ctx, secretsOf(rec.Vars), w.useApplied)
	if err != nil {
		return ApplyResult{}, err
	}
	outs, err := r.outputs(ctx)
	return ApplyResult{Outputs: outs, Applied: rec.Applied, Total: rec.Total}, err
}

// Outputs returns the root module outputs of the workspace's state, with the
// configuration of the last apply (it decides where the state lives).
func (a *Activities) Outputs(ctx context.Context, in OutputsInput) (OutputsResult, error) {
	w, release, err := a.open(in.Workspace)
	if err != nil {
		return OutputsResult{}, err
	}
	defer release()
	rec, err := w.readRecord()
	if err != nil {
		return OutputsResult{}, err
	}
	secrets := secretsOf(in.Vars)
	if rec != nil {
		secrets = append(secretsOf(rec.Vars), secrets...)
	}
	r, _, err := w.prepare(ctx, secrets, w.useApplied)
	if err != nil {
		return OutputsResult{}, err
	}
	outs, err := r.outputs(ctx)
	return OutputsResult{Outputs: outs}, err
}

// Destroy destroys everything in the workspace's state, with the
// configuration and variables of the last apply (the ones the resources were
// made with; destroy-time provisioners and provider settings come from them),
// or the module and Vars given when nothing was recorded. Afterwards the
// record and every saved plan are removed: the next release is a first one.
func (a *Activities) Destroy(ctx context.Context, in DestroyInput) (DestroyResult, error) {
	w, release, err := a.open(in.Workspace)
	if err != nil {
		return DestroyResult{}, err
	}
	defer release()
	rec, err := w.readRecord()
	if err != nil {
		return DestroyResult{}, err
	}
	vars, version := in.Vars, in.Version
	if rec != nil {
		vars, version = rec.Vars, rec.Version
	}
	vals, err := resolve(w.name(), vars, version)
	if err != nil {
		return DestroyResult{}, err
	}
	r, _, err := w.prepare(ctx, vals.secrets, w.useApplied)
	if err != nil {
		return DestroyResult{}, err
	}
	n, err := r.destroy(ctx, vals)
	if err != nil {
		return DestroyResult{}, err
	}
	w.forget()
	w.removeAllPlans()
	return DestroyResult{Destroyed: n}, nil
}

func (r *runner) destroy(ctx context.Context, vals values) (int, error) {
	varFile, err := vals.writeVarFile(r.w.dir)
	if err != nil {
		return 0, failed(fmt.Sprintf("destroy %s: write var file: %v", r.w.name(), err), true)
	}
	defer func() { _ = os.Remove(varFile) }()
	s := newStream("destroy", 0)
	err = r.run(ctx, s, func(out io.Writer) error { return r.tf.DestroyJSON(ctx, out, tfexec.VarFile(varFile)) })
	return s.removed(), err
}

// outputs reads the outputs of the state.
func (r *runner) outputs(ctx context.Context) (map[string]Output, error) {
	var m map[string]tfexec.OutputMeta
	err := r.run(ctx, newStream("output", 0), func(io.Writer) (err error) {
		m, err = r.tf.Output(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return convertOutputs(m, r.secrets), nil
}
