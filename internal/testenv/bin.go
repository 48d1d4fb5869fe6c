package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FindBin locates a server binary: the path in the environment variable
// envVar if set (which must exist), else the first of candidates found on
// PATH (or, for an absolute candidate, on disk); notFound otherwise.
func FindBin(envVar string, notFound error, candidates ...string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", envVar, p, err)
		}
		return p, nil
	}
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if _, err := os.Stat(c); err == nil {
				return c, nil
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", notFound
}

// RequireBin returns the binary find locates. Without it the test is
// skipped on a developer's machine and fails in CI, where a skipped test
// would prove nothing.
func RequireBin(t testing.TB, find func() (string, error)) string {
	t.Helper()
	bin, err := find()
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return bin
}
