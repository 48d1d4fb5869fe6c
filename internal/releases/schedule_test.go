package releases

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/runbooks"
	"github.com/runbookhq/runbook/workflows"
)

// scheduleReq is a ScheduleRequest that passes every check.
func scheduleReq(t *testing.T) ScheduleRequest {
	t.Helper()
	dir := t.TempDir()
	return ScheduleRequest{
		ID: "nightly", Cron: "0 9 * * TUE", VersionFrom: "file://" + filepath.Join(dir, "VERSION"),
		Path: filepath.Join(dir, "checkout.yaml"), Runbook: sampleRunbook("build/app-${version}.tar", ""),
	}
}

func TestScheduledInputKeepsTheVersionOpen(t *testing.T) {
	req := scheduleReq(t)
	req.Runbook.Artifact.Vulnerabilities = &runbooks.VulnerabilityPolicy{Report: "${artifact}.sarif"}
	in, err := ScheduledInputFor(req)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(req.Path)
	if want := filepath.Join(dir, "build/app-${version}.tar"); in.Runbook.Artifact.Reference != want {
		t.Errorf("artifact reference %q, want %q: absolute, version left open", in.Runbook.Artifact.Reference, want)
	}
	if in.Requester != "schedule:nightly" || in.ScheduleID != "nightly" || in.VersionFrom != req.VersionFrom {
		t.Errorf("input %+v: want requester schedule:nightly and the version source as given", in)
	}
	// At firing the version and artifact are filled in.
	a := workflows.ExpandArtifact(in.Runbook.Artifact, "checkout", "1.4.2", filepath.Join(dir, "build/app-1.4.2.tar"))
	if a.Vulnerabilities.Report != filepath.Join(dir, "build/app-1.4.2.tar.sarif") {
		t.Errorf("report %q after expansion, want the artifact's report", a.Vulnerabilities.Report)
	}
}

func TestScheduledInputRefusals(t *testing.T) {
	cases := []struct {
		name   string
		change func(*ScheduleRequest)
		want   string
	}{
		{"production needs signatures", func(r *ScheduleRequest) { r.Runbook.Environments[0].Name = "production" }, "identity: unsigned"},
		{"signed policy", func(r *ScheduleRequest) { r.Runbook.Policy.Identity = runbooks.IdentitySigned }, "needs signed decisions"},
		{"pinned digest", func(r *ScheduleRequest) { r.Runbook.Artifact.Digest = digestA }, "pins artifact.digest"},
		{"image source, file artifact", func(r *ScheduleRequest) { r.VersionFrom = "oci://127.0.0.1:5000/app:stable" }, "not oci://"},
		{"image source pinned", func(r *ScheduleRequest) {
			r.VersionFrom = "oci://127.0.0.1:5000/app@" + digestA
			r.Runbook.Artifact.Reference = "oci://127.0.0.1:5000/app:${version}"
		}, "never changes"},
		{"empty source", func(r *ScheduleRequest) { r.VersionFrom = "" }, "--version-from is empty"},
		{"remote file URL", func(r *ScheduleRequest) { r.VersionFrom = "file://host/VERSION" }, "file:///absolute/path"},
	}
	for _, c := range cases {
		req := scheduleReq(t)
		c.change(&req)
		if _, err := ScheduledInputFor(req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
	}
	// Production is fine when the runbook says decisions there are unsigned.
	req := scheduleReq(t)
	req.Runbook.Environments[0].Name = "production"
	req.Runbook.Environments[0].Identity = runbooks.IdentityUnsigned
	if _, err := ScheduledInputFor(req); err != nil {
		t.Errorf("production with identity: unsigned: %v", err)
	}
}
