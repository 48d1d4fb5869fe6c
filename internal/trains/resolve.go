package trains

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/runbookhq/runbook/internal/releases"
	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// Resolve loads every service's runbook, checks it fits the train (its
// service is the one named, it has every train environment) and resolves
// each into a release input, as `runbook deploy` would. name names this
// run of the train (e.g. 2026-12-w50). Every problem of every runbook is
// reported at once.
func Resolve(f *File, name, requester string) (workflows.TrainInput, error) {
	if !nameRE.MatchString(name) && !versionLike(name) {
		return workflows.TrainInput{}, fmt.Errorf("train run name %q is not valid: use letters, digits and . _ - (e.g. 2026-12-w50)", name)
	}
	abs, _ := filepath.Abs(f.Path)
	in := workflows.TrainInput{Train: f.Train, Name: name, File: abs, Requester: requester,
		Environments: f.Environments, Scope: f.Scope(), Slack: f.Slack}
	for _, env := range f.Environments {
		for _, g := range f.Gates[env] {
			in.Gates = append(in.Gates, workflows.TrainGate{Environment: env, Approval: g})
		}
	}
	var ps runbooks.Problems
	var errs []string
	for i, s := range f.Services {
		rb, err := runbooks.Load(f.RunbookPath(i))
		if err != nil {
			if p, ok := err.(runbooks.Problems); ok {
				ps = append(ps, p...)
				continue
			}
			return in, err
		}
		ps = append(ps, f.fits(i, rb)...)
		if strings.TrimSpace(s.Version) == "" {
			ps = append(ps, f.problem(fmt.Sprintf("services.%d", i), "service %s needs version: in the file, or --version %s=V at deploy", s.Name, s.Name))
			continue
		}
		rel, err := releases.Resolve(releases.ResolveInput{Path: f.RunbookPath(i), Runbook: rb, Version: s.Version,
			Digest: s.Digest, Requester: requester})
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", f.problem(fmt.Sprintf("services.%d", i), "service %s", s.Name), err))
			continue
		}
		in.Services = append(in.Services, workflows.TrainService{Name: s.Name, After: s.After, Release: rel})
	}
	if len(ps) > 0 {
		return in, ps
	}
	if len(errs) > 0 {
		return in, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return in, nil
}

// fits checks that service i's runbook is the one named and releases into
// at least one of the train's environments.
func (f *File) fits(i int, rb *runbooks.Runbook) runbooks.Problems {
	s := f.Services[i]
	at := fmt.Sprintf("services.%d.runbook", i)
	var ps runbooks.Problems
	if rb.Service != s.Name {
		ps = append(ps, f.problem(at, "%s releases service %s, not %s: name the service as its runbook does", s.Runbook, rb.Service, s.Name))
	}
	// A service may run in only some of the train's environments (a
	// batch job with no staging): it is released where its runbook has
	// the environment. One with none of them is a mistake.
	if !slices.ContainsFunc(rb.Environments, func(e runbooks.Environment) bool { return slices.Contains(f.Environments, e.Name) }) {
		ps = append(ps, f.problem(at, "%s has none of the train's environments (%s)", s.Runbook, strings.Join(f.Environments, ", ")))
	}
	return ps
}

// versionLike accepts run names like 2026.12.1 or 2026-12-w50.
func versionLike(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return true
}
