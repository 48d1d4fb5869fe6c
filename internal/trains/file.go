// Package trains reads train files: several services, each with its
// runbook and version, released together as one Train workflow in
// dependency order (after:), with train-level gates on top of each
// runbook's own.
package trains

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// APIVersion is the only train file format there is.
const APIVersion = "runbook/v1"

// File is a train file as written.
type File struct {
	APIVersion string `yaml:"api-version"`
	// Train names the train; a run of it is named at deploy (--name).
	Train string `yaml:"train"`
	// Environments are released in this order, every service in each.
	Environments []string `yaml:"environments"`
	// Gates are the train's own approvals, per environment, asked once
	// for the whole train before any service enters that environment.
	Gates map[string][]runbooks.Approval `yaml:"gates,omitempty"`
	// RollbackScope says what else is rolled back when a service fails
	// in an environment: dependents (default), environment or none.
	RollbackScope string    `yaml:"rollback-scope,omitempty"`
	Services      []Service `yaml:"services"`
	// Slack posts the train gates (with buttons) and the train's progress.
	Slack *runbooks.Slack `yaml:"slack,omitempty"`

	// Path is where the file was read from; runbook paths are relative to it.
	Path string `yaml:"-"`
	// nodes locate each service and gate for problems.
	nodes map[string]*yaml.Node
}

// Service is one service of the train.
type Service struct {
	// Name is the runbook's service; after: refers to it.
	Name    string   `yaml:"name"`
	Runbook string   `yaml:"runbook"`
	Version string   `yaml:"version"`
	Digest  string   `yaml:"digest,omitempty"`
	After   []string `yaml:"after,omitempty"`
}

// MaxSize bounds a train file, like a runbook.
const MaxSize = 1 << 20

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// Load reads the train file at path and checks it, without its runbooks
// (Resolve reads those). Errors are runbooks.Problems with file:line:col.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, runbooks.Problems{{File: path, Msg: "cannot read the train file: " + err.Error()}}
	}
	return Parse(path, data)
}

// Parse decodes and checks a train file.
func Parse(path string, data []byte) (*File, error) {
	if len(data) > MaxSize {
		return nil, runbooks.Problems{{File: path, Msg: "train file is larger than 1 MiB"}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil, runbooks.Problems{{File: path, Msg: "not a YAML train file: " + yamlReason(err)}}
	}
	f := &File{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeProblems(path, err)
	}
	f.nodes = index(root.Content[0])
	if ps := f.check(); len(ps) > 0 {
		return nil, ps
	}
	return f, nil
}

func yamlReason(err error) string {
	if err == nil {
		return "the file is empty"
	}
	return err.Error()
}

// decodeProblems turns yaml.v3's "line N: ..." errors into problems.
func decodeProblems(path string, err error) runbooks.Problems {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return runbooks.Problems{{File: path, Msg: err.Error()}}
	}
	var ps runbooks.Problems
	for _, msg := range te.Errors {
		var line int
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
			msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		msg = strings.Replace(msg, "not found in type trains.", "is not a train file field; fields of ", 1)
		ps = append(ps, runbooks.Problem{File: path, Line: line, Msg: msg})
	}
	return ps
}

// index finds the node of each service (services.N), each service's
// fields (services.N.KEY), each gate (gates.ENV) and top-level key.
func index(root *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if root.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		out[k.Value] = k
		switch {
		case k.Value == "services" && v.Kind == yaml.SequenceNode:
			for n, s := range v.Content {
				out[fmt.Sprintf("services.%d", n)] = s
				for j := 0; s.Kind == yaml.MappingNode && j+1 < len(s.Content); j += 2 {
					out[fmt.Sprintf("services.%d.%s", n, s.Content[j].Value)] = s.Content[j+1]
				}
			}
		case k.Value == "gates" && v.Kind == yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				out["gates."+v.Content[j].Value] = v.Content[j]
			}
		case k.Value == "environments" && v.Kind == yaml.SequenceNode:
			for n, e := range v.Content {
				out[fmt.Sprintf("environments.%d", n)] = e
			}
		}
	}
	return out
}

// problem is a problem at the node of key (or the file when unknown).
func (f *File) problem(key, format string, args ...any) runbooks.Problem {
	p := runbooks.Problem{File: f.Path, Msg: fmt.Sprintf(format, args...)}
	if n := f.nodes[key]; n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	return p
}

// check validates everything but the runbooks themselves.
func (f *File) check() runbooks.Problems {
	var ps runbooks.Problems
	add := func(key, format string, args ...any) { ps = append(ps, f.problem(key, format, args...)) }
	if f.APIVersion != APIVersion {
		add("api-version", "api-version must be %q", APIVersion)
	}
	if !nameRE.MatchString(f.Train) {
		add("train", "train must be a name of lower-case letters, digits and dashes, starting with a letter")
	}
	if len(f.Environments) == 0 {
		add("environments", "name the environments the train releases into, in order (e.g. [staging, production])")
	}
	for i, e := range f.Environments {
		if slices.Index(f.Environments, e) != i {
			add(fmt.Sprintf("environments.%d", i), "environment %s is listed twice", e)
		}
	}
	for env := range f.Gates {
		if !slices.Contains(f.Environments, env) {
			add("gates."+env, "gates for %s, which is not one of the train's environments (%s)", env, strings.Join(f.Environments, ", "))
		}
	}
	switch f.RollbackScope {
	case "", workflows.TrainScopeDependents, workflows.TrainScopeEnvironment, workflows.TrainScopeNone:
	default:
		add("rollback-scope", "rollback-scope must be dependents, environment or none, not %q", f.RollbackScope)
	}
	if len(f.Services) == 0 {
		add("services", "a train needs services: each with runbook and version")
	}
	ps = append(ps, f.checkServices()...)
	if len(ps) == 0 {
		if cycle := f.cycle(); cycle != nil {
			add(fmt.Sprintf("services.%d.after", cycle[0]), "after: makes a cycle (%s); a train's order must be a DAG", f.cycleNames(cycle))
		}
	}
	return ps
}

// checkServices checks each service's fields and after: references.
func (f *File) checkServices() runbooks.Problems {
	var ps runbooks.Problems
	seen := map[string]bool{}
	for i, s := range f.Services {
		at := fmt.Sprintf("services.%d", i)
		if s.Runbook == "" {
			ps = append(ps, f.problem(at, "service %d needs runbook: the path of its runbook", i+1))
		}
		if !nameRE.MatchString(s.Name) {
			ps = append(ps, f.problem(at, "service %d needs name: its runbook's service (lower-case letters, digits and dashes)", i+1))
		}
		if s.Name != "" && seen[s.Name] {
			ps = append(ps, f.problem(at+".name", "service %s is listed twice", s.Name))
		}
		seen[s.Name] = true
	}
	for i, s := range f.Services {
		for _, dep := range s.After {
			if !slices.ContainsFunc(f.Services, func(o Service) bool { return o.Name == dep }) {
				ps = append(ps, f.problem(fmt.Sprintf("services.%d.after", i), "after: names %s, which is not a service of this train", dep))
			}
			if dep == s.Name {
				ps = append(ps, f.problem(fmt.Sprintf("services.%d.after", i), "service %s cannot come after itself", dep))
			}
		}
	}
	return ps
}

// cycle returns the indexes of a cycle in after:, or nil.
func (f *File) cycle() []int {
	idx := map[string]int{}
	for i, s := range f.Services {
		idx[s.Name] = i
	}
	const (
		unseen = iota
		open
		done
	)
	state := make([]int, len(f.Services))
	var stack []int
	var found []int
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = open
		stack = append(stack, i)
		for _, d := range f.Services[i].After {
			j := idx[d]
			if state[j] == open {
				found = append([]int(nil), stack[slices.Index(stack, j):]...)
				return true
			}
			if state[j] == unseen && visit(j) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return false
	}
	for i := range f.Services {
		if state[i] == unseen && visit(i) {
			return found
		}
	}
	return nil
}

func (f *File) cycleNames(cycle []int) string {
	names := make([]string, 0, len(cycle)+1)
	for _, i := range cycle {
		names = append(names, f.Services[i].Name)
	}
	return strings.Join(append(names, names[0]), " → ")
}

// RunbookPath is service i's runbook path, relative to the train file.
func (f *File) RunbookPath(i int) string {
	p := f.Services[i].Runbook
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(f.Path), p)
}

// Scope is the rollback scope, defaulted.
func (f *File) Scope() string {
	if f.RollbackScope == "" {
		return workflows.TrainScopeDependents
	}
	return f.RollbackScope
}

// Override sets the versions and digests given at deploy time
// (NAME=VALUE), so a weekly train file need not be edited for each run.
func (f *File) Override(versions, digests map[string]string) error {
	for _, o := range []struct {
		flag string
		m    map[string]string
	}{{"--version", versions}, {"--digest", digests}} {
		for _, name := range slices.Sorted(maps.Keys(o.m)) {
			if !slices.ContainsFunc(f.Services, func(s Service) bool { return s.Name == name }) {
				return fmt.Errorf("%s %s=…: the train has no service %s", o.flag, name, name)
			}
		}
	}
	for i := range f.Services {
		s := &f.Services[i]
		if v, ok := versions[s.Name]; ok {
			s.Version = v
		}
		if d, ok := digests[s.Name]; ok {
			s.Digest = d
		}
	}
	return nil
}
