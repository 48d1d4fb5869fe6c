package main

import (
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/buildinfo"
)

func TestVersionPrintsDeploymentAndBuildID(t *testing.T) {
	t.Setenv("RUNBOOK_DEPLOYMENT_NAME", "")
	t.Setenv("RUNBOOK_BUILD_ID", "")
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	// Unstamped (a test binary): the build ID is never empty, and tells
	// this executable apart from another devel build.
	if !strings.Contains(out, "runbook "+buildinfo.Version()+"\n") || !strings.Contains(out, "unversioned") ||
		!strings.Contains(out, "build id: "+buildinfo.BuildID()+"\n") || !strings.Contains(out, "build id: devel+") {
		t.Errorf("runbook version without a deployment printed:\n%s", out)
	}

	t.Setenv("RUNBOOK_DEPLOYMENT_NAME", "runbook")
	t.Setenv("RUNBOOK_BUILD_ID", "2026-12-07.1")
	out, _, err = run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "deployment: runbook\n") || !strings.Contains(out, "build id: 2026-12-07.1\n") {
		t.Errorf("runbook version in a deployment printed:\n%s", out)
	}

	out, _, err = run(t, "--version")
	if err != nil || !strings.Contains(out, buildinfo.Version()) {
		t.Errorf("runbook --version printed %q (err %v), want the version %s", out, err, buildinfo.Version())
	}
}
