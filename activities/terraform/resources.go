package terraform

import (
	"context"
	"io"
	"slices"

	tfjson "github.com/hashicorp/terraform-json"
)

// ResourcesInput names the workspace whose state is read.
type ResourcesInput struct{ Workspace }

// ResourcesResult lists the resources in the workspace's state and the
// version of the release last applied there ("" when none is recorded).
type ResourcesResult struct {
	Addresses   []string
	LastApplied string
}

// Resources reads the workspace's state (`show -json`) with the
// configuration of the last apply: what really exists, for a rollback that
// must show that a destroy left nothing behind.
func (a *Activities) Resources(ctx context.Context, in ResourcesInput) (ResourcesResult, error) {
	w, release, err := a.open(in.Workspace)
	if err != nil {
		return ResourcesResult{}, err
	}
	defer release()
	rec, err := w.readRecord()
	if err != nil {
		return ResourcesResult{}, err
	}
	var res ResourcesResult
	secrets := secretsOf(in.Vars)
	if rec != nil {
		res.LastApplied = rec.Version
		secrets = append(secretsOf(rec.Vars), secrets...)
	}
	r, _, err := w.prepare(ctx, secrets, w.useApplied)
	if err != nil {
		return ResourcesResult{}, err
	}
	var st *tfjson.State
	err = r.run(ctx, newStream("show", 0), func(io.Writer) (err error) {
		st, err = r.tf.Show(ctx)
		return err
	})
	if err != nil {
		return ResourcesResult{}, err
	}
	if st != nil && st.Values != nil {
		res.Addresses = addresses(st.Values.RootModule)
	}
	slices.Sort(res.Addresses)
	return res, nil
}

// addresses lists the managed resources of m and its child modules (data
// sources are read, not owned, so a destroy leaves them "behind" harmlessly).
func addresses(m *tfjson.StateModule) []string {
	if m == nil {
		return nil
	}
	var out []string
	for _, r := range m.Resources {
		if r.Mode == tfjson.ManagedResourceMode {
			out = append(out, r.Address)
		}
	}
	for _, c := range m.ChildModules {
		out = append(out, addresses(c)...)
	}
	return out
}
