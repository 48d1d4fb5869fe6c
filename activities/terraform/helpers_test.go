package terraform

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/runbookhq/runbook/internal/secretref"
)

// Secrets the tests pass through env: references; none may show up in a
// result, an error or runbook-last-applied.json.
const (
	tokenEnv    = "TFTEST_TOKEN"
	secretToken = "s3cr3t-token-4f9a1c"
	labelEnv    = "TFTEST_LABEL"
	secretLabel = "canary-label-77e2b0"
	badLabelEnv = "TFTEST_BAD_LABEL"
	badLabel    = "forbidden-label-5c1d08" // the fixture refuses labels containing "forbidden"
)

func TestMain(m *testing.M) {
	// Set once for the whole binary so the tests that read them can run in parallel.
	_ = os.Setenv(secretref.AllowEnv, "TFTEST_*")
	_ = os.Setenv(tokenEnv, secretToken)
	_ = os.Setenv(labelEnv, secretLabel)
	_ = os.Setenv(badLabelEnv, badLabel)
	os.Exit(m.Run())
}

// tofuBin finds OpenTofu like the worker does ($RUNBOOK_TOFU_BIN first). A
// missing binary skips the test on a developer machine and fails it in CI.
func tofuBin(t testing.TB) string {
	t.Helper()
	p, err := Discover()
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no OpenTofu binary: %v", err)
		}
		t.Fatal(err)
	}
	return p
}

// fixture is one workspace on the testdata/release module, with its own
// state directory and the directory the module's "deployment" writes to.
type fixture struct {
	t      *testing.T
	a      *Activities
	module string // a copy of testdata/release the test may edit
	out    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, a: &Activities{Bin: tofuBin(t), StateDir: t.TempDir()}, module: t.TempDir(), out: t.TempDir()}
	if _, _, err := copyConfig("testdata/release", f.module); err != nil {
		t.Fatal(err)
	}
	return f
}

// ws is the workspace of a release; extra vars are added to the defaults.
func (f *fixture) ws(version string, extra ...string) Workspace {
	vars := map[string]string{"out_dir": f.out, "token": "env:" + tokenEnv}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	return Workspace{Service: "checkout", Environment: "prod", Module: f.module, Vars: vars, Version: version}
}

func (f *fixture) plan(ws Workspace) PlanResult {
	f.t.Helper()
	start := time.Now()
	p, err := f.a.Plan(f.t.Context(), PlanInput{Workspace: ws})
	if err != nil {
		f.t.Fatalf("plan %s: %v", ws.Version, err)
	}
	f.t.Logf("plan %s: %s in %s", ws.Version, p.Summary, time.Since(start).Round(time.Millisecond))
	return p
}

func (f *fixture) apply(ws Workspace, p PlanResult) ApplyResult {
	f.t.Helper()
	start := time.Now()
	res, err := f.a.Apply(f.t.Context(), ApplyInput{Workspace: ws, PlanFile: p.PlanFile, PlanHash: p.PlanHash})
	if err != nil {
		f.t.Fatalf("apply %s: %v", ws.Version, err)
	}
	f.t.Logf("apply %s: %d/%d in %s", ws.Version, res.Applied, res.Total, time.Since(start).Round(time.Millisecond))
	return res
}

// release plans and applies ws.
func (f *fixture) release(ws Workspace) (PlanResult, ApplyResult) {
	f.t.Helper()
	p := f.plan(ws)
	return p, f.apply(ws, p)
}

// deployed returns the content of the file the module writes, and whether it exists.
func (f *fixture) deployed() (string, bool) {
	b, err := os.ReadFile(filepath.Join(f.out, "release.txt"))
	return string(b), err == nil
}

func (f *fixture) workdir() string {
	return filepath.Join(f.a.StateDir, "checkout", "prod")
}

func appErr(t *testing.T, err error, typ string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an ApplicationError %s", err, typ)
	}
	if ae.Type() != typ || ae.NonRetryable() != nonRetryable {
		t.Fatalf("err type %q non-retryable %v, want %q %v (%v)", ae.Type(), ae.NonRetryable(), typ, nonRetryable, err)
	}
	return ae
}
