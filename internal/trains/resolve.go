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
		Environments: f.Environments, Scope: f.Scope()}
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

// fits checks that service i's runbook is the one named and has every
// environment of the train.
func (f *File) fits(i int, rb *runbooks.Runbook) runbooks.Problems {
	s := f.Services[i]
	at := fmt.Sprintf("services.%d.runbook", i)
	var ps runbooks.Problems
	if rb.Service != s.Name {
		ps = append(ps, f.problem(at, "%s releases service %s, not %s: name the service as its runbook does", s.Runbook, rb.Service, s.Name))
	}
	for _, env := range f.Environments {
		if !slices.ContainsFunc(rb.Environments, func(e runbooks.Environment) bool { return e.Name == env }) {
			ps = append(ps, f.problem(at, "%s has no environment %s; every service of the train needs every train environment", s.Runbook, env))
		}
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
