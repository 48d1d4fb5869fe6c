package runbooks

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hangLimit is a hang detector, not a timing assertion: every input in
// these tests parses in milliseconds, so reaching it means a loop or an
// alias expansion that never ends.
const hangLimit = 10 * time.Second

type parseResult struct {
	rb  *Runbook
	err error
}

// parseSafely runs Parse in a goroutine and fails the test if it does not
// return within hangLimit.
func parseSafely(t testing.TB, name string, data []byte) (*Runbook, error) {
	t.Helper()
	done := make(chan parseResult, 1)
	go func() {
		rb, err := Parse(name, data)
		done <- parseResult{rb, err}
	}()
	select {
	case r := <-done:
		return r.rb, r.err
	case <-time.After(hangLimit):
		t.Fatalf("Parse(%s) did not return within %s", name, hangLimit)
		return nil, nil
	}
}

// problemsOf parses src and returns its problems, failing the test if the
// parse succeeds or fails with another error type.
func problemsOf(t testing.TB, name, src string) Problems {
	t.Helper()
	rb, err := parseSafely(t, name, []byte(src))
	if err == nil {
		t.Fatalf("Parse(%s) succeeded, want problems; runbook: %+v", name, rb)
	}
	if rb != nil {
		t.Errorf("Parse(%s) returned a runbook along with an error", name)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse(%s) error is %T, want Problems: %v", name, err, err)
	}
	if len(ps) == 0 {
		t.Fatalf("Parse(%s) returned an empty Problems", name)
	}
	return ps
}

// wantProblem fails unless one of ps prints exactly as want.
func wantProblem(t testing.TB, ps Problems, want string) {
	t.Helper()
	for _, p := range ps {
		if p.String() == want {
			return
		}
	}
	t.Errorf("missing problem\n  want: %s\n  got:\n%s", want, indent(ps.Error()))
}

// wantProblemContaining fails unless a problem at file:line:col (as a
// prefix) contains each of the fragments.
func wantProblemContaining(t testing.TB, ps Problems, where string, fragments ...string) {
	t.Helper()
	for _, p := range ps {
		s := p.String()
		if !strings.HasPrefix(s, where+": ") {
			continue
		}
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(s, f)
		}
		if ok {
			return
		}
	}
	t.Errorf("missing problem at %s containing %q; got:\n%s", where, fragments, indent(ps.Error()))
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// validBase is a minimal valid runbook; tests append to or edit it.
const validBase = `api-version: runbook/v1
service: checkout
owner: team-payments
artifact:
  reference: ./app
environments:
  - name: staging
    steps:
      - name: smoke
        http-check:
          url: http://127.0.0.1:8080/healthz
`

// reflectType is reflect.TypeOf for a type named in a test.
func reflectType[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
