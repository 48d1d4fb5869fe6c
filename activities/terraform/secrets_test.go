package terraform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// assertNoSecret fails if any secret of the tests occurs in s.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range []string{secretToken, secretLabel, badLabel} {
		if strings.Contains(s, sec) {
			t.Errorf("%s contains the secret %q:\n%s", what, sec, s)
		}
	}
}

// TestSecretsStayOut resolves env: variables and checks that their values
// reach OpenTofu but no result, error or record.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ws := f.ws("1.0.0", "label", "env:"+labelEnv)
	p, res := f.release(ws)

	// The module outputs the label without marking it sensitive; it holds a
	// secret, so runbook withholds the value.
	if l := res.Outputs["label"]; !l.Sensitive || len(l.Value) != 0 {
		t.Errorf("output label = %+v (%s), want withheld", l, l.Value)
	}
	outs, err := f.a.Outputs(t.Context(), OutputsInput{Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := json.Marshal([]any{p, res, outs})
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "results", string(blob))

	rec, err := os.ReadFile(filepath.Join(f.workdir(), recordName))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, recordName, string(rec))
	if !strings.Contains(string(rec), "env:"+tokenEnv) {
		t.Errorf("%s does not keep the reference env:%s:\n%s", recordName, tokenEnv, rec)
	}
	if left, _ := filepath.Glob(filepath.Join(f.workdir(), varFileGlob)); len(left) > 0 {
		t.Errorf("var files left behind: %v", left)
	}

	// The module quotes a bad label in its validation error.
	_, err = f.a.Plan(t.Context(), PlanInput{Workspace: f.ws("1.0.1", "label", "env:"+badLabelEnv)})
	ae := appErr(t, err, ErrInvalid, true)
	assertNoSecret(t, "error", ae.Error())
	if !strings.Contains(ae.Error(), "Invalid value for variable") || !strings.Contains(ae.Error(), redacted) {
		t.Errorf("error %q should name the problem with the value redacted", ae.Error())
	}

	d, err := f.a.Drift(t.Context(), DriftInput{Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	blob, _ = json.Marshal(d)
	assertNoSecret(t, "drift result", string(blob))
}

// TestMissingEnvVar: an env: reference the worker cannot resolve is
// ErrInvalid naming the variable.
func TestMissingEnvVar(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.a.Plan(t.Context(), PlanInput{Workspace: f.ws("1.0.0", "token", "env:TFTEST_UNSET")})
	if ae := appErr(t, err, ErrInvalid, true); !strings.Contains(ae.Error(), "TFTEST_UNSET") {
		t.Errorf("message %q", ae.Error())
	}
}
