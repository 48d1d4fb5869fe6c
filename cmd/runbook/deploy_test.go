package main

import (
	"strings"
	"testing"
	"time"
)

// failFast bounds how long a command may take to refuse bad input: it must
// not wait for a Temporal server.
const failFast = 2 * time.Second

// TestControlCannotReachTemporal is the control for the deploy tests below:
// with the same settings, a command that does need Temporal fails with the
// connection error. So a deploy that fails with a validation message did
// not get as far as dialing.
func TestControlCannotReachTemporal(t *testing.T) {
	addr := isolateConfig(t)
	out, errOut, err := run(t, "status", "release/checkout/1.4.2")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Temporal at "+addr) {
		t.Fatalf("status with TEMPORAL_ADDRESS=%s: want a connection error naming it; %s", addr, describe(out, errOut, err))
	}
}

func TestDeployRefusesBadInputBeforeDialing(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		errHas []string
	}{
		{"version with a space", []string{"--version", "1.4.2 beta", "--digest", goodDigest},
			[]string{`version "1.4.2 beta" is not valid`, "letters, digits and . + _ -", "e.g. 1.4.2"}},
		{"version with a slash", []string{"--version", "1.4/2", "--digest", goodDigest},
			[]string{`version "1.4/2" is not valid`}},
		{"empty version", []string{"--version", "", "--digest", goodDigest},
			[]string{`version "" is not valid`}},
		{"digest without algorithm", []string{"--version", "1.4.2", "--digest", strings.Repeat("0f", 32)},
			[]string{`--digest "` + strings.Repeat("0f", 32) + `" must look like sha256:<64 lowercase hex digits>`}},
		{"short digest", []string{"--version", "1.4.2", "--digest", "sha256:abc"},
			[]string{`--digest "sha256:abc" must look like sha256:<64 lowercase hex digits>`}},
		{"uppercase digest", []string{"--version", "1.4.2", "--digest", strings.ToUpper(goodDigest)},
			[]string{"must look like sha256:<64 lowercase hex digits>"}},
		// The example has no digest; the person must say which bytes to ship.
		{"no digest", []string{"--version", "1.4.2"},
			[]string{"no artifact digest", "pass --digest sha256:<hex>"}},
		{"empty requester", []string{"--version", "1.4.2", "--digest", goodDigest, "--as", " "},
			[]string{"pass --as NAME"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isolateConfig(t)
			start := time.Now()
			out, errOut, err := run(t, append([]string{"deploy", exampleRunbook}, c.args...)...)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("deploy accepted bad input; %s", describe(out, errOut, err))
			}
			msg := err.Error()
			if strings.Contains(msg, "Temporal") || strings.Contains(msg, "connection") || strings.Contains(msg, "dial") {
				t.Fatalf("deploy tried to reach Temporal before checking its input: %v", err)
			}
			for _, want := range c.errHas {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans several lines", msg)
			}
			if took > failFast {
				t.Errorf("deploy took %s to refuse bad input, want under %s", took, failFast)
			}
			if strings.Contains(out, "started") {
				t.Errorf("deploy printed %q after refusing", out)
			}
		})
	}
}

// TestDeployInvalidRunbook: an invalid runbook is refused with every
// problem, as file:line:col, and exit code 1, before any dial.
func TestDeployInvalidRunbook(t *testing.T) {
	isolateConfig(t)
	path := writeFile(t, "bad.yaml", invalidRunbook)
	_, _, err := run(t, "deploy", path, "--version", "1.4.2", "--digest", goodDigest)
	exit := asExit(t, err)
	if exit.code != 1 {
		t.Errorf("exit code %d, want 1", exit.code)
	}
	got := lines(exit.msg)
	if len(got) != 3 || !strings.HasPrefix(got[0], path+":2:10: ") || !strings.HasPrefix(got[2], path+":12:19: ") {
		t.Errorf("exit message should list the 3 problems as file:line:col, got:\n%s", exit.msg)
	}
}

func TestDeployNeedsVersion(t *testing.T) {
	isolateConfig(t)
	_, _, err := run(t, "deploy", exampleRunbook, "--digest", goodDigest)
	if err == nil || !strings.Contains(err.Error(), `required flag(s) "version" not set`) {
		t.Errorf("deploy without --version: err = %v", err)
	}
}
