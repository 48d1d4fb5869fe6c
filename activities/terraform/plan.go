package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// Plan copies the module into the workspace's working directory, runs init
// and validate when the module changed, and saves a plan made with the
// resolved Vars and Version. The result carries the plan's path and hash for
// Apply, a summary for the approval, and the previous release's vars for the
// compensation. Module and variable errors are ErrInvalid; a held state lock
// is ErrLocked and retried.
func (a *Activities) Plan(ctx context.Context, in PlanInput) (PlanResult, error) {
	w, release, err := a.open(in.Workspace)
	if err != nil {
		return PlanResult{}, err
	}
	defer release()
	vals, err := resolve(w.name(), in.Vars, in.Version)
	if err != nil {
		return PlanResult{}, err
	}
	r, digest, err := w.prepare(ctx, vals.secrets, w.useModule)
	if err != nil {
		return PlanResult{}, err
	}
	id := newPlanID()
	res, err := r.savePlan(ctx, id, vals, in.Destroy)
	if err != nil {
		w.removePlan(id)
		return PlanResult{}, err
	}
	m := planMeta{Vars: in.Vars, Version: in.Version, Destroy: in.Destroy, ModuleDigest: digest, PlanHash: res.PlanHash, Total: res.Summary.changes()}
	if err := w.writeMeta(id, m); err != nil {
		w.removePlan(id)
		return PlanResult{}, failed(fmt.Sprintf("plan %s: %v", w.name(), err), true)
	}
	rec, err := w.readRecord()
	if err != nil {
		return PlanResult{}, err
	}
	if rec != nil {
		res.Previous, res.PreviousVersion = rec.Vars, rec.Version
	}
	res.TaskQueue = a.HostQueue
	return res, nil
}

// Drift plans the last release again - its configuration snapshot, its
// variables, its version - and reports Drifted when applying that plan would
// change any resource: the world no longer matches what was released.
//
// A normal refreshing plan is used rather than -refresh-only. Both refresh
// every resource from its provider, but -refresh-only only reports what a
// provider's read returns differently; it misses changes that show up through
// the configuration (data sources, file and lookup functions, resources like
// terraform_data that have no remote object) and it flags attributes the
// module ignores (ignore_changes, computed noise). The normal plan answers the
// operator's question directly - what would re-applying the release change -
// and its summary is the remediation. Planning the applied snapshot rather
// than the current module keeps unreleased module edits from showing as
// drift. Output-only differences are not drift. With nothing released yet,
// there is nothing to drift from: Drifted is false.
func (a *Activities) Drift(ctx context.Context, in DriftInput) (DriftResult, error) {
	w, release, err := a.open(in.Workspace)
	if err != nil {
		return DriftResult{}, err
	}
	defer release()
	rec, err := w.readRecord()
	if err != nil {
		return DriftResult{}, err
	}
	if rec == nil {
		return DriftResult{NothingReleased: true, Checked: time.Now().UTC()}, nil
	}
	vals, err := resolve(w.name(), rec.Vars, rec.Version)
	if err != nil {
		return DriftResult{}, err
	}
	r, _, err := w.prepare(ctx, vals.secrets, w.useApplied)
	if err != nil {
		return DriftResult{}, err
	}
	path := w.planPath(planPrefix + "drift")
	defer func() { _ = os.Remove(path) }()
	if _, err := r.plan(ctx, path, vals, false); err != nil {
		return DriftResult{}, err
	}
	sum, err := r.show(ctx, path)
	if err != nil {
		return DriftResult{}, err
	}
	return DriftResult{Drifted: sum.changes() > 0, Summary: sum, Checked: time.Now().UTC()}, nil
}

// prepare puts a configuration into the working directory with use, and
// readies a runner for it (init when needed).
func (w *workdir) prepare(ctx context.Context, secrets []string, use func() (string, error)) (*runner, string, error) {
	digest, err := use()
	if err != nil {
		return nil, "", err
	}
	r, err := w.runner(secrets)
	if err != nil {
		return nil, "", err
	}
	return r, digest, r.init(ctx, digest)
}

// savePlan snapshots the module for plan id, then plans into its file.
func (r *runner) savePlan(ctx context.Context, id string, vals values, destroy bool) (PlanResult, error) {
	w := r.w
	snap := w.meta(plansDir, id, "config")
	if err := os.MkdirAll(snap, 0o700); err != nil {
		return PlanResult{}, failed(fmt.Sprintf("plan %s: %v", w.name(), err), true)
	}
	if _, _, err := copyConfig(w.ws.Module, snap); err != nil {
		return PlanResult{}, failed(fmt.Sprintf("plan %s: snapshot module: %v", w.name(), err), true)
	}
	path := w.planPath(id)
	changes, err := r.plan(ctx, path, vals, destroy)
	if err != nil {
		return PlanResult{}, err
	}
	sum, err := r.show(ctx, path)
	if err != nil {
		return PlanResult{}, err
	}
	hash, err := fileHash(path)
	if err != nil {
		return PlanResult{}, failed(fmt.Sprintf("plan %s: %v", w.name(), err), true)
	}
	return PlanResult{Changes: changes, PlanFile: path, PlanHash: hash, Summary: sum}, nil
}

// plan runs `plan -out path` with a var file that exists only for the
// command. The saved plan holds the variable values, secrets included, so it
// is made readable by the worker's user only.
func (r *runner) plan(ctx context.Context, path string, vals values, destroy bool) (bool, error) {
	varFile, err := vals.writeVarFile(r.w.dir)
	if err != nil {
		return false, failed(fmt.Sprintf("plan %s: write var file: %v", r.w.name(), err), true)
	}
	defer func() { _ = os.Remove(varFile) }()
	var changes bool
	err = r.run(ctx, newStream("plan", 0), func(out io.Writer) (err error) {
		changes, err = r.tf.PlanJSON(ctx, out, tfexec.VarFile(varFile), tfexec.Out(path), tfexec.Destroy(destroy))
		return err
	})
	if err != nil {
		return false, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return false, failed(fmt.Sprintf("plan %s: %v", r.w.name(), err), true)
	}
	return changes, nil
}

// show summarises a saved plan from `show -json`. Addresses can carry
// for_each keys made from variables, so secrets are redacted from them too.
func (r *runner) show(ctx context.Context, path string) (PlanSummary, error) {
	var p *tfjson.Plan
	err := r.run(ctx, newStream("plan", 0), func(io.Writer) (err error) {
		p, err = r.tf.ShowPlanFile(ctx, path)
		return err
	})
	if err != nil {
		return PlanSummary{}, err
	}
	sum := summarize(p)
	for i := range sum.Resources {
		sum.Resources[i].Address = redact(sum.Resources[i].Address, r.secrets)
	}
	return sum, nil
}

// newPlanID names a plan by its UTC creation time, so names sort by age.
func newPlanID() string {
	return planPrefix + time.Now().UTC().Format("20060102T150405.000000000") + "Z"
}

// fileHash is "sha256:<hex>" of the file at path.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
