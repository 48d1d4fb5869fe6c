package edgeproxy

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBackendFlag parses name=url=weight, the form of `runbook edge
// --backend`. The URL may itself contain '=' (a query string): the name
// ends at the first '=' and the weight starts after the last.
func ParseBackendFlag(s string) (BackendSpec, error) {
	name, rest, ok1 := strings.Cut(s, "=")
	i := strings.LastIndex(rest, "=")
	if !ok1 || i < 0 {
		return BackendSpec{}, fmt.Errorf("%w: --backend %q: want name=url=weight, e.g. blue=http://127.0.0.1:9001=100", ErrInvalid, s)
	}
	w, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return BackendSpec{}, fmt.Errorf("%w: --backend %q: weight %q is not a whole number 0..%d", ErrInvalid, s, rest[i+1:], MaxWeight)
	}
	b := BackendSpec{Name: name, URL: rest[:i], Weight: w}
	return b, b.validate()
}

// Seed adds the backends the state file does not know yet, in one change.
// Backends already in the state keep their persisted URL and weight, so a
// restart with the same flags does not undo a traffic shift. It returns the
// names it added.
func (s *Server) Seed(specs []BackendSpec) ([]string, error) {
	var added []string
	err := s.change(func(next map[string]BackendSpec) error {
		for _, b := range specs {
			if err := b.validate(); err != nil {
				return err
			}
			if _, ok := next[b.Name]; !ok {
				next[b.Name] = b
				added = append(added, b.Name)
			}
		}
		return nil
	})
	if err != nil || len(added) == 0 {
		return nil, err
	}
	return added, nil
}
