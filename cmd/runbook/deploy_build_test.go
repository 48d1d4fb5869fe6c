package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// git runs git in dir and fails the test on error.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func TestBuildInfoCountsTheCommitRange(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is not installed; CI installs it")
		}
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	file := filepath.Join(dir, "app.go")
	write := func(lines ...string) {
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a", "b", "c")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "one")
	git(t, dir, "tag", "v1")
	write("a", "B", "c", "d")
	git(t, dir, "commit", "-qam", "two")
	write("a", "B", "c", "d", "e", "f")
	git(t, dir, "commit", "-qam", "three")
	t.Chdir(dir)

	t.Setenv("RUNBOOK_COMMIT_TIME", "2026-11-25T10:00:00+01:00")
	o := &deployCmd{}
	o.build.CommitRange = "v1..HEAD"
	b, err := o.buildInfo()
	if err != nil {
		t.Fatal(err)
	}
	// b -> B is one deletion and one insertion; d, e, f three insertions.
	if b.Commits != 2 || b.ChangedLines != 5 {
		t.Errorf("commits %d, changed lines %d; want 2 and 5", b.Commits, b.ChangedLines)
	}
	if want := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC); !b.CommitTime.Equal(want) {
		t.Errorf("commit time %s from RUNBOOK_COMMIT_TIME, want %s", b.CommitTime, want)
	}

	o.build.CommitRange = "nope..HEAD"
	if _, err := o.buildInfo(); err == nil || !strings.Contains(err.Error(), "pass --changed-lines") {
		t.Errorf("unknown revision: %v", err)
	}
	if _, err := (&deployCmd{commitTime: "yesterday"}).buildInfo(); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("bad commit time: %v", err)
	}
}
