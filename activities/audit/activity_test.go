package audit

import (
	"errors"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

func TestAppendAuditActivity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a := &Activities{Log: openLog(t, path)}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)

	run := func(in AppendAuditInput) (AppendAuditResult, error) {
		var res AppendAuditResult
		val, err := env.ExecuteActivity(a.AppendAudit, in)
		if err != nil {
			return res, err
		}
		return res, val.Get(&res)
	}
	first, err := run(AppendAuditInput{Entry: entry(1)})
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || len(first.Hash) != 64 {
		t.Errorf("first result = %+v", first)
	}
	// A retried activity (same ID) gets the same answer, and the file one line.
	again, err := run(AppendAuditInput{Entry: entry(1)})
	if err != nil || again != first {
		t.Errorf("retry = %+v, %v; want %+v", again, err, first)
	}
	if res, err := Verify(path); err != nil || res.Entries != 1 || res.Head != first.Hash {
		t.Errorf("Verify = %+v, %v", res, err)
	}

	bad := entry(2)
	bad.Action = ""
	_, err = run(AppendAuditInput{Entry: bad})
	assertAppErr(t, err, ErrTypeInvalid, true)
}

func TestAppendAuditWithoutLog(t *testing.T) {
	_, err := (&Activities{}).AppendAudit(t.Context(), AppendAuditInput{Entry: entry(1)})
	assertAppErr(t, err, ErrTypeNotConfigured, true)
}

func TestAppendAuditOnBrokenLogRetries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l := openLog(t, path)
	writeN(t, l, 2)
	// Another process appends a forged line that does not continue the chain.
	lines := readLines(t, path)
	writeLines(t, path, append(lines, lines[1]))
	_, err := (&Activities{Log: l}).AppendAudit(t.Context(), AppendAuditInput{Entry: entry(3)})
	assertAppErr(t, err, ErrTypeLogBroken, false)
}

func assertAppErr(t *testing.T, err error, typ string, nonRetryable bool) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want an ApplicationError", err)
	}
	if appErr.Type() != typ || appErr.NonRetryable() != nonRetryable {
		t.Errorf("err type %q non-retryable %v, want %q %v (%v)", appErr.Type(), appErr.NonRetryable(), typ, nonRetryable, err)
	}
}
