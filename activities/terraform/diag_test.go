package terraform

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Recorded from OpenTofu 1.12.6.
const (
	lockStderr = `
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        37532302-e17a-fca3-d73d-d905c96826c0
  Path:      terraform.tfstate
  Operation: OperationTypeApply
  Who:       root@vm
  Version:   1.12.6
  Created:   2026-11-26 00:14:11.047114702 +0000 UTC
  Info:      


OpenTofu acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
`
	staleJSON = `{"@level":"error","@message":"Error: Saved plan is stale","@module":"tofu.ui","diagnostic":{"severity":"error","summary":"Saved plan is stale","detail":"The given plan file can no longer be applied because the state was changed by another operation after the plan was created."},"type":"diagnostic"}`
	// The label comes from env: and is quoted by the module's validation message.
	invalidVarStderr = `
Error: Invalid value for variable

  on main.tf line 1:
   1: variable "label" {
    ├────────────────
    │ var.label is "forbidden-xyz-secret"

The label "forbidden-xyz-secret" is forbidden.

This was checked by the validation rule at main.tf:4,3-13.
`
	transientJSON   = `{"@level":"error","diagnostic":{"severity":"error","summary":"reading S3 Bucket","detail":"operation error S3: HeadBucket, https response error StatusCode: 503, RequestID: X, api error ServiceUnavailable","address":"aws_s3_bucket.b"},"type":"diagnostic"}`
	provisionerJSON = `{"@level":"error","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command 'exit 3': exit status 3. Output: ","address":"terraform_data.slow","range":{"filename":"main.tf","start":{"line":3,"column":28,"byte":96}}},"type":"diagnostic"}`
)

func testRunner() *runner {
	w := &workdir{dir: "/state/checkout/prod", ws: Workspace{Service: "checkout", Environment: "prod"}, bin: "/opt/tofu"}
	return &runner{w: w, secrets: []string{"forbidden-xyz-secret"}}
}

func classify(t *testing.T, op, stderr, stdout string) *temporal.ApplicationError {
	t.Helper()
	r := testRunner()
	r.stderr.WriteString(stderr)
	s := newStream(op, 0)
	if _, err := s.Write([]byte(stdout + "\n")); err != nil {
		t.Fatal(err)
	}
	err := r.fail(context.Background(), op, errors.New("exit status 1"), s)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("fail() = %v, want an ApplicationError", err)
	}
	return ae
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name, op, stderr, stdout string
		typ                      string
		retryable                bool
		say                      []string
	}{
		{"lock", "plan", lockStderr, "", ErrLocked, true, []string{"another run holds the state lock", "tofu force-unlock 37532302-e17a-fca3-d73d-d905c96826c0", "/state/checkout/prod"}},
		{"stale", "apply", "", staleJSON, ErrPlanStale, false, []string{"Saved plan is stale", "plan again"}},
		{"invalid var", "plan", invalidVarStderr, "", ErrInvalid, false, []string{"Invalid value for variable", "main.tf line 1", redacted}},
		{"transient", "plan", "", transientJSON, ErrFailed, true, []string{"reading S3 Bucket", "aws_s3_bucket.b", "retrying"}},
		{"provisioner", "apply", "", provisionerJSON, ErrFailed, false, []string{"local-exec provisioner error", "main.tf line 3", "plan again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ae := classify(t, tc.op, tc.stderr, tc.stdout)
			if ae.Type() != tc.typ || ae.NonRetryable() == tc.retryable {
				t.Fatalf("type %s non-retryable %v, want %s %v: %v", ae.Type(), ae.NonRetryable(), tc.typ, !tc.retryable, ae)
			}
			for _, s := range tc.say {
				if !strings.Contains(ae.Error(), s) {
					t.Errorf("message %q does not say %q", ae.Error(), s)
				}
			}
			if strings.Contains(ae.Error(), "forbidden-xyz-secret") {
				t.Errorf("message leaks the secret: %q", ae.Error())
			}
		})
	}
}

func TestFailPassesCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := testRunner().fail(ctx, "apply", errors.New("signal: interrupt"), newStream("apply", 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("fail() after cancel = %v, want context.Canceled", err)
	}
}

func TestParseStderr(t *testing.T) {
	d := parseStderr(invalidVarStderr + "\nWarning: Value for undeclared variable\n\nThe root module does not declare a variable named \"version\".\n")
	if len(d) != 2 {
		t.Fatalf("%d diagnostics, want 2: %+v", len(d), d)
	}
	want := diagnostic{Error: true, Summary: "Invalid value for variable", Where: "main.tf line 1",
		Detail: `The label "forbidden-xyz-secret" is forbidden.`}
	if d[0] != want {
		t.Errorf("got %+v\nwant %+v", d[0], want)
	}
	if d[1].Error || d[1].Summary != "Value for undeclared variable" {
		t.Errorf("warning parsed as %+v", d[1])
	}
	if got := describe(d); strings.Contains(got, "undeclared") {
		t.Errorf("describe quotes a warning: %q", got)
	}
}

func TestDescribeDeduplicates(t *testing.T) {
	halted := diagnostic{Error: true, Summary: "execution halted"}
	var d []diagnostic
	for range 3 {
		d = append(d, halted)
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		d = append(d, diagnostic{Error: true, Summary: s})
	}
	if got := describe(d); got != "execution halted; a; b; and 2 more errors" {
		t.Errorf("describe = %q", got)
	}
}

func TestStreamProgress(t *testing.T) {
	s := newStream("apply", 0)
	var beats []Progress
	s.changed = func(p Progress) { beats = append(beats, p) }
	msgs := []string{
		`{"type":"planned_change","change":{"resource":{"addr":"a.x"},"action":"replace"}}`,
		`{"type":"planned_change","change":{"resource":{"addr":"a.y"},"action":"create"}}`,
		`{"type":"apply_start","hook":{"resource":{"addr":"a.x"},"action":"delete"}}`,
		`{"type":"apply_complete","hook":{"resource":{"addr":"a.x"},"action":"delete"}}`,
		`{"type":"apply_complete","hook":{"resource":{"addr":"a.x"},"action":"create"}}`,
		`{"type":"apply_start","hook":{"resource":{"addr":"a.y"},"action":"create"}}`,
		`{"type":"apply_complete","hook":{"resource":{"addr":"a.y"},"action":"create"}}`,
		`{"type":"change_summary","changes":{"add":2,"change":0,"remove":1,"operation":"apply"}}`,
	}
	doc := strings.Join(msgs, "\n") + "\n"
	for len(doc) > 0 { // in uneven pieces, as a pipe delivers them
		n := min(len(doc), 37)
		if _, err := s.Write([]byte(doc[:n])); err != nil {
			t.Fatal(err)
		}
		doc = doc[n:]
	}
	if p := s.progress(); p != (Progress{Phase: "apply", Done: 2, Total: 2, Current: "a.y"}) {
		t.Errorf("progress %+v", p)
	}
	if len(beats) == 0 || beats[0].Total != 1 {
		t.Errorf("beats %+v", beats)
	}
	if s.removed() != 1 {
		t.Errorf("removed %d, want OpenTofu's count 1", s.removed())
	}
}

func TestRedact(t *testing.T) {
	secrets := []string{`pa"ss`, "token-1"}
	got := redact(`x token-1 y "pa\"ss" pa"ss`, secrets)
	if got != `x [redacted] y "[redacted]" [redacted]` {
		t.Errorf("redact = %q", got)
	}
	if !containsSecret(`{"v":"pa\"ss"}`, secrets) || containsSecret(`{"v":"pass"}`, secrets) {
		t.Error("containsSecret misses JSON-escaped secrets or matches too much")
	}
}

// TestBeatTicksWhileSilent: a command that prints nothing still heartbeats.
func TestBeatTicksWhileSilent(t *testing.T) {
	s := newStream("apply", 3)
	ticks := make(chan Progress, 16)
	stop := beat(t.Context(), s, func(p Progress) {
		select {
		case ticks <- p:
		default:
		}
	}, 5*time.Millisecond)
	defer stop()
	for i := range 3 { // the first at once, then from the ticker alone
		select {
		case p := <-ticks:
			if p.Total != 3 || p.Phase != "apply" {
				t.Errorf("tick %d: %+v", i, p)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d heartbeats without output", i)
		}
	}
}
