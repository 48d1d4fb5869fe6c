package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromSettings(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"clean", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}, "0123456789ab"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}, "0123456789ab-dirty"},
		{"no vcs", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}, Devel},
	} {
		if got := fromSettings(c.settings); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// A test binary has no VCS stamp: its build ID is devel plus the digest of
// the executable, so two different devel builds never share one.
func TestBuildIDOfUnstampedBuild(t *testing.T) {
	if Version() != Devel {
		t.Fatalf("test binary version %q, want %q", Version(), Devel)
	}
	id := BuildID()
	digest, ok := strings.CutPrefix(id, Devel+"+")
	if !ok || len(digest) != 8 {
		t.Fatalf("build ID %q, want devel+<8 hex digits>", id)
	}
	if BuildID() != id {
		t.Fatalf("build ID changed between calls")
	}
}
